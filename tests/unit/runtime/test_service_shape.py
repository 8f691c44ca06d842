"""Every service has one shape: the same files for the same roles, the same
``__main__.py``, and ``app.SERVICE_SPEC`` naming its settings and app factory."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Final

import pytest

from promethean.runtime.assembly import ServiceSpec

REPO: Final = Path(__file__).resolve().parents[3]
SERVICES: Final = {
    "broker": "promethean_broker",
    "compactor": "promethean_compactor",
    "gateway": "promethean_gateway",
    "outbox-drainer": "promethean_outbox_drainer",
    "partitioned-worker": "promethean_worker",
}
ROLES: Final = ("__main__.py", "app.py", "settings.py", "metrics.py")
MAIN: Final = '''"""``promethean-{command}`` / ``python -m {package}``.

Started the way every service is: see `promethean.runtime.main`.
"""

from promethean.runtime.main import run_service


def main() -> None:
    run_service("{package}")


if __name__ == "__main__":
    main()
'''


def package_dir(folder: str, package: str) -> Path:
    return REPO / "services" / folder / "src" / package


@pytest.mark.parametrize(("folder", "package"), SERVICES.items())
def test_the_same_files_hold_the_same_roles(folder: str, package: str) -> None:
    files = {path.name for path in package_dir(folder, package).glob("*.py")}
    assert set(ROLES) <= files
    assert not {"runtime.py", "health.py"} & files


@pytest.mark.parametrize(("folder", "package"), SERVICES.items())
def test_every_main_is_the_same_few_lines(folder: str, package: str) -> None:
    command = package.removeprefix("promethean_").replace("_", "-")
    main = (package_dir(folder, package) / "__main__.py").read_text()
    assert main == MAIN.format(command=command, package=package)


@pytest.mark.parametrize("package", SERVICES.values())
def test_the_app_module_names_its_settings_and_factory(package: str) -> None:
    app = importlib.import_module(f"{package}.app")
    settings = importlib.import_module(f"{package}.settings")
    spec = app.SERVICE_SPEC
    assert isinstance(spec, ServiceSpec)
    assert spec.create_app is app.create_app
    assert spec.name == settings.SERVICE
