"""A real PostgreSQL server for the tests, started from Debian's server binaries in a temporary directory.

``make test`` installs Debian's ``postgresql`` package when no server is on the machine (as it
installs Java for Spark). ``initdb`` refuses to run as root, so as root the server runs as the
``postgres`` system user (created by the package) through ``runuser``; otherwise as whoever runs
the tests. It listens on a Unix socket only (``listen_addresses=''``): no network port is
opened. ``fsync=off``: a test server need not survive a power cut, and it starts in ~1 s.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Where Debian puts each major version's server binaries.
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"


def server_bindir() -> Path | None:
    """The newest directory holding ``initdb`` and ``pg_ctl``, or None."""
    found = sorted(glob.glob(DEBIAN_BINDIRS), key=lambda p: int(Path(p).parent.name)
                   if Path(p).parent.name.isdigit() else 0)
    for candidate in reversed(found):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


@dataclass
class PostgresServer:
    """A running server; ``dsn`` connects as its superuser ``leadscore`` to database ``postgres``."""

    root: Path
    bindir: Path
    port: int
    as_user: str | None

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def dsn(self) -> str:
        return f"host={self.socket_dir} port={self.port} user=leadscore dbname=postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")

    def start(self) -> None:
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "leadscore", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PostgresServer:
    """Start a fresh server in a new temporary directory (raises when no server binaries exist)."""
    bindir = server_bindir()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries: `make test` installs them "
                           "(Debian: apt-get install postgresql)")
    as_user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="leadscore-pg-"))
    (root / "socket").mkdir()
    if as_user:
        shutil.chown(root, user=as_user)
        shutil.chown(root / "socket", user=as_user)
        os.chmod(root, 0o755)
    server = PostgresServer(root, bindir, 54000 + os.getpid() % 1000, as_user)
    server.start()
    return server
