"""Build the two zip packages that docs/azure.md deploys: the Function app and the Streamlit app.

    python infra/package_apps.py [--out dist/azure]

conversation-store is not on PyPI, so each package carries the project's wheel in `wheels/`
and a requirements.txt that finds it there (`--find-links wheels`) and pins it to that exact
version. App Service's build (Oryx, `SCM_DO_BUILD_DURING_DEPLOYMENT=true`) installs it with
the other requirements from PyPI. The wheel is built from a clean copy of the sources, so
the work tree gains no `build/` folder.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "examples" / "azure_functions"
STREAMLIT_DIR = REPO_ROOT / "streamlit_app"
FUNCTION_FILES = ("function_app.py", "http_mapping.py", "host.json")
WHEEL_NAME = re.compile(r"^conversation_store-(?P<version>[^-]+)-.*\.whl$")
PROJECT_LINE = re.compile(r"^conversation-store\b.*$", re.MULTILINE)
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".env", "secrets.toml")


def build_wheel(out: Path) -> Path:
    """The project's wheel, built into `out` from a copy of pyproject.toml, README and src/."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "source"
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(REPO_ROOT / name, source / name)
        shutil.copytree(REPO_ROOT / "src", source / "src", ignore=IGNORED)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
             "--wheel-dir", str(out), str(source)],
            check=True,
        )
    wheels = sorted(out.glob("conversation_store-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one conversation_store wheel in {out}, found {len(wheels)}")
    return wheels[0]


def wheel_version(wheel: Path) -> str:
    match = WHEEL_NAME.match(wheel.name)
    if match is None:
        raise ValueError(f"{wheel.name} is not a conversation_store wheel")
    return match.group("version")


def function_requirements(template: str, version: str) -> str:
    """The example's requirements.txt with conversation-store pinned to the bundled wheel."""
    if not PROJECT_LINE.search(template):
        raise ValueError("requirements.txt does not list conversation-store")
    pinned = PROJECT_LINE.sub(f"conversation-store=={version}", template)
    return pinned if "--find-links wheels" in pinned else f"--find-links wheels\n{pinned}"


def webapp_requirements(version: str) -> str:
    return f"--find-links wheels\nconversation-store[app]=={version}\n"


def stage_functions(stage: Path, wheel: Path) -> Path:
    """The Function app's folder: its modules, host.json, requirements.txt and the wheel."""
    stage.mkdir(parents=True)
    for name in FUNCTION_FILES:
        shutil.copy2(FUNCTIONS_DIR / name, stage / name)
    template = (FUNCTIONS_DIR / "requirements.txt").read_text()
    (stage / "requirements.txt").write_text(function_requirements(template, wheel_version(wheel)))
    _add_wheel(stage, wheel)
    return stage


def stage_webapp(stage: Path, wheel: Path) -> Path:
    """The Streamlit app's folder: streamlit_app/, requirements.txt and the wheel."""
    stage.mkdir(parents=True)
    shutil.copytree(STREAMLIT_DIR, stage / "streamlit_app", ignore=IGNORED)
    (stage / "requirements.txt").write_text(webapp_requirements(wheel_version(wheel)))
    _add_wheel(stage, wheel)
    return stage


def zip_folder(folder: Path) -> Path:
    """`folder` as `<folder>.zip`, its contents at the archive's root (as App Service wants)."""
    return Path(shutil.make_archive(str(folder), "zip", root_dir=folder))


def package(out: Path, wheel: Path | None = None) -> tuple[Path, Path]:
    """Write `out/functions.zip` and `out/webapp.zip`; returns their paths."""
    if out.exists():
        shutil.rmtree(out)
    wheel = wheel or build_wheel(out / "wheel")
    functions = zip_folder(stage_functions(out / "functions", wheel))
    webapp = zip_folder(stage_webapp(out / "webapp", wheel))
    return functions, webapp


def _add_wheel(stage: Path, wheel: Path) -> None:
    (stage / "wheels").mkdir()
    shutil.copy2(wheel, stage / "wheels" / wheel.name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / "azure")
    args = parser.parse_args(argv)
    for archive in package(args.out.resolve()):
        print(archive)


if __name__ == "__main__":
    main()
