"""Running the app with uvicorn: ``leadscore serve``, the tests' server fixture and the bench.

uvicorn handles SIGTERM and SIGINT by finishing in-flight requests and running the app's
shutdown, which stops the scheduler and worker, drains the writer and closes the store: a
stopped server leaves nothing half-written (and DuckDB's WAL covers a harder kill).
"""

from __future__ import annotations

import errno
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn

from leadscore.api.app import create_app
from leadscore.errors import LeadscoreError
from leadscore.workspace import Workspace


class _Server(uvicorn.Server):
    """uvicorn, but a shutdown on SIGTERM/SIGINT that completed cleanly exits with status 0.

    (uvicorn re-raises the signal after its graceful shutdown, so the process would end "killed
    by SIGTERM" even though every request finished and the store was closed.)
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound and listening; a taken port is a one-line ``LeadscoreError``.

    Bound here rather than by uvicorn, which reports a taken port only after the app has started
    (and after ``serving ...`` was printed), then exits with status 3 and a page of log lines.
    """
    try:
        return socket.create_server((host, port), backlog=2048)
    except OSError as exc:
        reason = "is taken by another process" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        raise LeadscoreError(f"port {port} on {host} {reason}: stop that process or choose another with "
                             "--port") from None


def serve(ws: Workspace, *, host: str = "127.0.0.1", port: int = 8000, worker: bool = True,
          scheduler: bool = True, log_level: str = "info", access_log: bool = False,
          announce: Callable[[str], None] | None = None) -> None:
    """Serve the workspace until SIGTERM / SIGINT; ``announce`` hears "serving ..." once the port is ours.

    The port is bound and the store opened first, so a taken port or a locked store is one clear
    error, not a failed start.
    """
    # The writer thread releases the GIL on every DuckDB call and must get it back while request
    # threads parse batches: at Python's default 5 ms switch interval each of its dozens of steps may
    # wait that long (the convoy effect); 0.5 ms cut single-event latency under batch load.
    sys.setswitchinterval(0.0005)
    sock = listening_socket(host, port)
    try:
        store = ws.open_store()
    except BaseException:
        sock.close()
        raise
    try:
        app = create_app(ws, worker=worker, scheduler=scheduler, store=store)
        config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=access_log,
                                lifespan="on", timeout_graceful_shutdown=30,
                                limit_concurrency=ws.settings.server.max_connections)
        if announce is not None:
            announce(f"serving {ws.root} on http://{host}:{port} (docs at /docs)")
        _Server(config).run(sockets=[sock])
    finally:
        sock.close()
        store.close()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for tests and the bench)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ThreadedServer:
    """uvicorn in a background thread of this process: a real server on a real socket.

    >>> # with ThreadedServer(create_app(ws)) as srv: httpx.get(srv.url + "/healthz")
    """

    def __init__(self, app: object, *, host: str = "127.0.0.1", port: int | None = None):
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="on")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="leadscore-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> ThreadedServer:
        self.thread.start()
        waited = 0.0
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the server did not start (see its log)")
            threading.Event().wait(0.02)
            waited += 0.02
            if waited > timeout:
                raise TimeoutError("the server did not start in time")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
