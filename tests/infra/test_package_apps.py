"""infra/package_apps.py stages the two zip packages that docs/azure.md deploys."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "package_apps.py"


@pytest.fixture(scope="module")
def packager() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_apps", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("package_apps", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    """A stand-in for the project's wheel (building the real one needs setuptools from PyPI)."""
    path = tmp_path / "conversation_store-1.2.3-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversation_store/__init__.py", "")
    return path


def test_packages_hold_the_apps_the_wheel_and_pinned_requirements(
    packager: ModuleType, wheel: Path, tmp_path: Path
) -> None:
    functions, webapp = packager.package(tmp_path / "out", wheel=wheel)

    with zipfile.ZipFile(functions) as archive:
        names = set(archive.namelist())
        requirements = archive.read("requirements.txt").decode()
    assert {
        "function_app.py",
        "http_mapping.py",
        "host.json",
        "requirements.txt",
        "wheels/conversation_store-1.2.3-py3-none-any.whl",
    } <= names
    assert not any("__pycache__" in n for n in names)
    lines = requirements.splitlines()
    assert "--find-links wheels" in lines and "conversation-store==1.2.3" in lines
    assert any(line.startswith("azure-functions") for line in lines)

    with zipfile.ZipFile(webapp) as archive:
        names = set(archive.namelist())
        requirements = archive.read("requirements.txt").decode()
    assert {"streamlit_app/app.py", "wheels/conversation_store-1.2.3-py3-none-any.whl"} <= names
    assert not any("__pycache__" in n or n.endswith(".env") for n in names)
    assert requirements.splitlines() == ["--find-links wheels", "conversation-store[app]==1.2.3"]


def test_requirements_must_name_the_project(packager: ModuleType) -> None:
    with pytest.raises(ValueError, match="conversation-store"):
        packager.function_requirements("azure-functions\n", "1.0")
    with pytest.raises(ValueError, match="not a conversation_store wheel"):
        packager.wheel_version(Path("other-1.0-py3-none-any.whl"))
