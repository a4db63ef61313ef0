"""Run the benchmarks, write `bench/results/<date>.json`, then render `docs/benchmarks.md`.

    python -m bench.run                 # the default scale (under 5 minutes on 2 cores)
    BENCH_SCALE=full python -m bench.run

The Cosmos measurements run against the local Cosmos-compatible server that the tests use
(`tests/support/local_cosmos.py`), started here on 127.0.0.1 and stopped by its PID.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the server launcher lives with the tests

from conversation_store import Conversation  # noqa: E402
from support.local_cosmos import SERVER_DIR, LocalCosmosServer  # noqa: E402

from . import cosmos_decoding  # noqa: E402
from .cosmos_suite import CosmosBench  # noqa: E402
from .render import DOC, display, render  # noqa: E402
from .scale import Scale, scale_from_env  # noqa: E402
from .stats import summarize  # noqa: E402
from .workload import TextSource, prebuilt_conversation  # noqa: E402

RESULTS = REPO / "bench" / "results"
PACKAGES = ("conversation-store", "azure-cosmos", "azure-core", "pydantic", "matplotlib")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> dict[str, Any]:
    """Where the numbers come from."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "python": platform.python_version(),
        "node": command_output(["node", "--version"]),
        "packages": {name: package_version(name) for name in PACKAGES},
        "cosmosdb_server": server_version(),
        "commit": command_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
    }


def command_output(command: list[str]) -> str | None:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def server_version() -> str | None:
    lock = json.loads((SERVER_DIR / "package-lock.json").read_text())
    package = lock.get("packages", {}).get("node_modules/@vercel/cosmosdb-server", {})
    version: str | None = package.get("version")
    return version


def run_cosmos(scale: Scale) -> dict[str, Any]:
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    with LocalCosmosServer() as server:
        log(f"local Cosmos server pid {server.pid} on {server.endpoint}")
        bench = CosmosBench(server.endpoint, server.key, scale, TextSource())
        try:
            return bench.run(log)
        finally:
            bench.close()


def run_sqlite(scale: Scale) -> dict[str, Any]:
    from .sqlite_suite import SQLiteBench

    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as directory:
        bench = SQLiteBench(Path(directory), scale, TextSource())
        try:
            return bench.run(log)
        finally:
            bench.close()


def run_sqlite_floor() -> dict[str, Any]:
    from . import sqlite_floor

    with tempfile.TemporaryDirectory(prefix="bench-floor-") as directory:
        return sqlite_floor.run(Path(directory), log)


def model_cost(scale: Scale) -> dict[str, Any]:
    """Building the pydantic models of the longest conversation: a load's cost in any backend."""
    length = max(scale.load_at)
    document = prebuilt_conversation("model", "c_model", length, TextSource()).to_document()
    samples = []
    for _ in range(scale.load_repetitions):
        started = time.perf_counter()
        Conversation.model_validate(document)
        samples.append((time.perf_counter() - started) * 1000)
    return {"messages": length, "validate_ms": summarize(samples)}


def main() -> None:
    scale = scale_from_env()
    started = time.perf_counter()
    log(f"scale {scale.name}")
    results: dict[str, Any] = {"machine": machine(), "scale": scale.to_json()}
    results["load_average"] = os.getloadavg()
    results["cosmos"] = run_cosmos(scale)
    results["sqlite"] = run_sqlite(scale)
    results["sqlite_floor"] = run_sqlite_floor()
    log("cosmos: building the models of a full load (no server)")
    results["cosmos_decoding"] = cosmos_decoding.run()
    results["models"] = model_cost(scale)
    results["seconds"] = time.perf_counter() - started
    if scale.publish:
        directory, doc = RESULTS, DOC
    else:  # a smoke run checks that everything works; it publishes nothing
        directory = Path(tempfile.mkdtemp(prefix=f"bench-{scale.name}-"))
        doc = directory / "benchmarks.md"
    directory.mkdir(parents=True, exist_ok=True)
    suffix = "" if scale.name == "default" else f"-{scale.name}"
    path = directory / f"{results['machine']['date'][:10]}{suffix}.json"
    path.write_text(json.dumps(rounded(results), indent=1) + "\n")
    log(f"wrote {display(path)} ({results['seconds']:.0f} s)")
    for written in render(path, doc):
        log(f"wrote {display(written)}")


def rounded(value: Any) -> Any:
    """`value` with floats rounded to 3 decimals (microseconds, for times in ms)."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


if __name__ == "__main__":
    main()
