"""Start and stop the local Cosmos DB-compatible test server (tools/cosmos-server/launch.js).

The server is ``@vercel/cosmosdb-server`` behind our own Node launcher, which fixes the
quirks that matter to the azure-cosmos Python SDK (see the comments in launch.js). It speaks
HTTPS with a self-signed certificate, so clients need ``connection_verify=False``; it accepts
any key and keeps everything in memory (a restart loses all data).

Typical use::

    with LocalCosmosServer() as server:
        client = CosmosClient(server.endpoint, credential=server.key, connection_verify=False)
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = REPO_ROOT / "tools" / "cosmos-server"
LAUNCHER = SERVER_DIR / "launch.js"
NODE_MODULES = SERVER_DIR / "node_modules"

# The Cosmos DB emulator's well-known (public) account key. The local server accepts any key;
# this one is used so the same settings also work against the real emulator.
EMULATOR_KEY = (
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
)

DEFAULT_START_TIMEOUT = 30.0
DEFAULT_STOP_TIMEOUT = 10.0


class LocalCosmosError(RuntimeError):
    """The local Cosmos server could not be started."""


def ensure_node_modules() -> None:
    """Raise a clear error if the server's npm dependencies are not installed."""
    if not (NODE_MODULES / "@vercel" / "cosmosdb-server").is_dir():
        raise LocalCosmosError(
            f"{NODE_MODULES} is missing or incomplete: run "
            "`npm ci --prefix tools/cosmos-server` from the repository root first."
        )


def find_node() -> str:
    """Path of the ``node`` executable (``$NODE`` if set, else from ``$PATH``)."""
    node = os.environ.get("NODE") or shutil.which("node")
    if not node:
        raise LocalCosmosError("`node` (Node.js >= 20) was not found on PATH; set $NODE.")
    return node


class LocalCosmosServer:
    """One local Cosmos server process, bound to 127.0.0.1.

    The first ``start()`` binds the port given (0: any free port); later starts (``restart()``,
    or ``start()`` after ``stop()``) reuse the same port, with no data. Usable as a context
    manager. The server also exits by itself when this process dies (it watches its stdin).
    """

    key: str = EMULATOR_KEY

    def __init__(
        self,
        port: int = 0,
        *,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        log_requests: bool = False,
    ) -> None:
        self._requested_port = port
        self._port: int | None = None
        self._start_timeout = start_timeout
        self._log_requests = log_requests
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    # -- properties -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise LocalCosmosError("the local Cosmos server has not been started")
        return self._port

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise LocalCosmosError("the local Cosmos server is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stderr_text(self) -> str:
        """Everything the server wrote to stderr so far (errors; requests if log_requests)."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", errors="replace")

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the server and wait until it listens. Returns self."""
        if self.running:
            return self
        ensure_node_modules()
        port = self._port if self._port is not None else self._requested_port
        env = dict(os.environ)
        env["COSMOS_SERVER_EXIT_ON_STDIN_EOF"] = "1"
        if self._log_requests:
            env["COSMOS_SERVER_LOG"] = "1"
        # stderr goes to a file, not a pipe: nobody reads it while tests run, and a full pipe
        # would block the server.
        self._close_stderr()
        # Closed by close() / the next start(), hence no `with`.
        self._stderr = tempfile.TemporaryFile(prefix="local-cosmos-", suffix=".log")  # noqa: SIM115
        self._process = subprocess.Popen(
            [find_node(), str(LAUNCHER), str(port)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,  # held open; EOF (we closed it or died) stops the server
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        try:
            self._port = self._read_port(self._process)
        except BaseException:
            self._kill()
            raise
        return self

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after `timeout`) and wait for it."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()  # SIGTERM to this PID
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _close_pipes(process)
        self._process = None

    def restart(self) -> Self:
        """Stop, then start again on the same port. All data is lost (in-memory server)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server and release its log file."""
        self.stop()
        self._close_stderr()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------

    def _read_port(self, process: subprocess.Popen[bytes]) -> int:
        """Wait for the launcher's single `{"port": N}` line on stdout."""
        assert process.stdout is not None
        deadline = time.monotonic() + self._start_timeout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._start_error(
                        f"did not report its port within {self._start_timeout} s"
                    )
                if not selector.select(timeout=remaining):
                    continue
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    process.wait(timeout=5)
                    raise self._start_error(
                        f"exited with code {process.returncode} before listening"
                    )
                buffer += chunk
        line = buffer.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        try:
            port = int(json.loads(line)["port"])
        except (ValueError, KeyError, TypeError) as error:
            raise self._start_error(f"printed an unexpected first line: {line!r}") from error
        return port

    def _start_error(self, what: str) -> LocalCosmosError:
        stderr = self.stderr_text().strip() or "(nothing on stderr)"
        return LocalCosmosError(f"local Cosmos server ({LAUNCHER}) {what}.\nstderr:\n{stderr}")

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        if process is not None:
            _close_pipes(process)
        self._process = None

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()
