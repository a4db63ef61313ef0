"""The app under `streamlit run` for the browser tests (importable: the e2e folder is on
sys.path), and what a test needs to seed conversations for a browser it controls.

The identity key is made before the server starts, in the `identity.key` file the app reads
beside its database, so a test can seed conversations for a browser whose cookie it set
(`E2EApp.customer_id`) without going through the page.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streamlit_app.identity import KEY_FILE_NAME, anonymous_customer_id, key_from_file

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "streamlit_app" / "app.py"
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class E2EApp:
    url: str
    database: Path
    key: bytes

    def customer_id(self, secret: str) -> str:
        """The stored customer id of a browser holding `secret` in its identity cookie."""
        return anonymous_customer_id(secret, self.key)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not start in {STARTUP_SECONDS}s:\n{log.read_text()}")


@contextmanager
def running_app(workdir: Path) -> Iterator[tuple[E2EApp, subprocess.Popen[bytes]]]:
    """`streamlit run` of the app over `workdir`/e2e.db until the block ends (a test may
    stop the process earlier)."""
    database = workdir / "e2e.db"
    key = key_from_file(workdir / KEY_FILE_NAME)
    port = free_port()
    env = {
        **os.environ,
        "CONVERSATION_STORE_URL": f"sqlite:///{database}",
        "COSMOSDB_ENDPOINT": "",  # never a developer's real account, whatever .env says
        "AZURE_OPENAI_ENDPOINT": "",
        "AZURE_SPEECH_KEY": "",
        "CONVERSATION_STORE_IDENTITY_KEY": "",  # so the key is kept in identity.key beside e2e.db
    }
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    log = workdir / "streamlit.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log)
        yield E2EApp(url=url, database=database, key=key), process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
