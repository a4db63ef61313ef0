"""A throwaway PostgreSQL cluster for the test session: `initdb` into a temporary folder, the
server on 127.0.0.1 on a free port, stopped by its PID.

`initdb` refuses to run as root (as CI does), so under root both run as the `postgres` system
user that Debian's package creates. Clients log in with a password (scram-sha-256 on TCP), so
the tests exercise the password path of the store. `POSTGRES_TEST_URL` skips all this and uses
an existing server instead (see `tests/conftest.py`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

SUPERUSER = "postgres"
PASSWORD = "test-password"
_START_SECONDS = 30.0


def postgres_binaries() -> Path:
    """The newest `bin/` folder of Debian's PostgreSQL packages (or of PATH's `initdb`)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed: run scripts/install-system-deps.sh")
    return Path(initdb).parent


def _major_version(path: str) -> int:
    return int(Path(path).parts[-3])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """Start with `with PostgresServer() as server:`; `server.url` is the superuser's URL."""

    def __init__(self) -> None:
        self._bin = postgres_binaries()
        self._root = Path(tempfile.mkdtemp(prefix="pg-test-"))
        self._data = self._root / "data"
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._as_user = _unprivileged_user()

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{self.port}/postgres"

    def __enter__(self) -> PostgresServer:
        self._init_cluster()
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)

    def start(self) -> None:
        """Start the server on the cluster (again, after `stop`, on the same port)."""
        log = open(self._root / "server.log", "ab")  # noqa: SIM115 (the server keeps it)
        self._process = subprocess.Popen(
            [
                str(self._bin / "postgres"),
                "-D",
                str(self._data),
                "-k",
                str(self._root),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-c",
                "fsync=on",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._root,
            **self._as_user,
        )
        log.close()
        self._wait_until_ready()

    def stop(self) -> None:
        """Fast shutdown by PID (SIGINT: roll back open transactions, then exit cleanly)."""
        if self._process is None:
            return
        self._process.send_signal(signal.SIGINT)
        self._process.wait(timeout=30)
        self._process = None

    def _init_cluster(self) -> None:
        pwfile = self._root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self._as_user:
            subprocess.run(["chown", "-R", "postgres:postgres", str(self._root)], check=True)
        subprocess.run(
            [
                str(self._bin / "initdb"),
                "-D",
                str(self._data),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            cwd=self._root,
            **self._as_user,
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _START_SECONDS
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                log = (self._root / "server.log").read_text(errors="replace")
                raise RuntimeError(f"PostgreSQL exited at start:\n{log}")
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def _unprivileged_user() -> dict[str, Any]:
    """Popen arguments that drop root to the `postgres` user; none for anyone else."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise RuntimeError("running as root needs the `postgres` user (Debian's package)") from exc
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def fresh_schema_url(server_url: str) -> tuple[str, str]:
    """A new empty schema on the server, and a URL whose connections use it (its tables
    are created there by the store's migrations): tests never share data."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in server_url else "?"
    return f"{server_url}{separator}options=-csearch_path%3D{schema}", schema


def drop_schema(server_url: str, schema: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
