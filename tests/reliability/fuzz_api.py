"""Fuzzed API requests against a real ``leadscore serve``: 0 responses of 5xx.

schemathesis generates requests for every operation of the served OpenAPI document, valid and
invalid (wrong types, missing fields, odd strings, bodies that are not JSON), sent with an admin key
(so they reach the handlers); a share of raw requests adds what no schema describes: random paths
and percent-escapes, methods, headers and bytes. Every response must be below 500.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from tests.api.conftest import make_workspace
from tests.reliability.common import Figures, served

RAW_SHARE = 0.1


def _raw(client: httpx.Client, rng: random.Random, statuses: Counter[int | str], bad: list[str]) -> None:
    alphabet = "abc%/?&=.-_~!$'()*+,;:@ \\\"\x00\u00e9\ud7ff"
    path = "/" + "".join(rng.choice(["v1/", "contacts/", "events", "models/", "%FE", "%ED%A0%80", "%00", "..",
                                     "scores", "keys/", "x"] + list(alphabet)) for _ in range(rng.randint(0, 8)))
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
    body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
    headers = {"content-type": rng.choice(["application/json", "text/plain", "application/x-www-form-urlencoded"])}
    try:
        r = client.request(method, path.replace(" ", "%20"), content=body, headers=headers)
    except (httpx.InvalidURL, UnicodeEncodeError):
        return
    except httpx.HTTPError:  # a request line the HTTP parser refuses (a NUL in the path): it closes
        statuses["connection closed by the HTTP parser"] += 1
        return
    statuses[r.status_code] += 1
    if r.status_code >= 500:
        bad.append(f"{method} {path!r}: {r.status_code} {r.text[:200]}")


def run_fuzz_api(workdir: Path, *, requests: int = 10_000, seed: int = 3) -> Figures:
    fig = Figures(f"fuzzed API requests: {requests:,} against a real server",
                  "make reliability (tests/reliability/fuzz_api.py)")
    ws, keys = make_workspace(workdir / "fuzz-api")
    statuses: Counter[int | str] = Counter()
    bad: list[str] = []
    rng = random.Random(seed)
    started = time.perf_counter()
    with served(ws.root) as (url, _proc):
        headers = {"Authorization": f"Bearer {keys['admin']}"}
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [r.ok() for r in schema.get_all_operations()]
        raw = int(requests * RAW_SHARE)
        per = max((requests - raw) // (2 * len(operations)), 1)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for operation in operations:
                @settings(max_examples=per, deadline=None, database=None, suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def check(case: schemathesis.Case) -> None:
                    response = case.call(headers=headers)
                    statuses[response.status_code] += 1
                    if response.status_code >= 500:
                        bad.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                                   f"{response.text[:200]}")

                try:
                    check()
                except Unsatisfiable:
                    pass
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            while sum(statuses.values()) < requests:
                _raw(client, rng, statuses, bad)
        alive = httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    total = sum(statuses.values())
    fig.figures = {"requests": total, "5xx": sum(n for s, n in statuses.items() if isinstance(s, int) and s >= 500),
                   "by status": dict(sorted(statuses.items(), key=str)), "server alive after": alive,
                   "seconds": round(time.perf_counter() - started)}
    if bad:
        fig.figures["first 5xx"] = bad[:3]
    fig.require(not bad, f"{len(bad)} responses of 5xx")
    fig.require(alive, "the server did not answer /healthz afterwards")
    return fig


if __name__ == "__main__":
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(run_fuzz_api(Path(tmp), requests=int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
                        .lines()), flush=True)
