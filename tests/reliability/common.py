"""What the reliability scenarios share: a demo workspace, a real ``leadscore serve`` subprocess,
latency quantiles, and the report lines each scenario prints."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from leadscore.api.server import free_port


def quantile_ms(values: list[float], q: float) -> float:
    """The q-quantile of ``values`` (seconds) in milliseconds (nearest rank)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class Figures:
    """One scenario's outcome: named figures, and whether every requirement held."""

    name: str
    command: str
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def require(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)

    def lines(self) -> list[str]:
        status = "ok" if not self.failures else "FAILED: " + "; ".join(self.failures)
        out = [f"== {self.name}: {status}"]
        out += [f"   {k}: {v}" for k, v in self.figures.items()]
        return out


DEMO_CACHE = Path(os.environ.get("LEADSCORE_RELIABILITY_DIR", "/tmp/leadscore-reliability"))


def demo_workspace(target: Path, *, contacts: int = 20_000, events: int = 500_000) -> Path:
    """A copy of a demo workspace (`leadscore demo`), built once per size and cached."""
    from leadscore.demo.build import build_demo

    cached = DEMO_CACHE / f"demo-{contacts}-{events}"
    if not (cached / "leadscore.duckdb").exists():
        if cached.exists():
            shutil.rmtree(cached)
        cached.parent.mkdir(parents=True, exist_ok=True)
        build_demo(cached, contacts=contacts, events=events)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(cached, target)
    return target


def write_key(root: Path, scope: str = "write") -> str:
    from leadscore.api.keys import create_key
    from leadscore.storage.store import Store

    with Store.open(root / "leadscore.duckdb") as store:
        return create_key(store, scope, f"reliability {scope}")[1]


@contextmanager
def served(root: Path, *, worker: bool = False, env: dict[str, str] | None = None,
           port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``leadscore serve`` on ``root`` in a subprocess; SIGTERM (or a kill) when done."""
    port = port or free_port()
    args = [sys.executable, "-m", "leadscore", "serve", "--port", str(port), "--no-schedule",
            "--log-level", "warning", "-w", str(root)] + ([] if worker else ["--no-worker"])
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not start")
