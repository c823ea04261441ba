"""Apps build on each other in one direction, sso > accounts > authz > identity: import-linter
checks it in `make lint`, and here, so that `make test` catches a violation too."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def _config() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["tool"]["importlinter"]


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_apps_keep_their_layers():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_contract_names_every_app_from_the_top_down():
    config = _config()
    assert config["root_packages"] == ["identity", "authz", "accounts", "sso"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    assert contract["layers"] == ["sso", "accounts", "authz", "identity"]


def test_a_lower_app_importing_a_higher_one_breaks_the_contract(tmp_path):
    # The same contract on a toy tree whose floor imports the top inside a function: the kind
    # of "just this once" import the layers forbid.
    contract = next(c for c in _config()["contracts"] if c["type"] == "layers")
    for package in contract["layers"]:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "sso" / "views.py").write_text("VIEWS = []\n")
    (tmp_path / "identity" / "urls.py").write_text(
        "def urlpatterns():\n    from sso.views import VIEWS\n\n    return VIEWS\n"
    )
    names = ", ".join(f'"{layer}"' for layer in contract["layers"])
    (tmp_path / "pyproject.toml").write_text(
        f"[tool.importlinter]\nroot_packages = [{names}]\n\n"
        f'[[tool.importlinter.contracts]]\nname = "layers"\ntype = "layers"\nlayers = [{names}]\n'
    )
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "identity.urls -> sso.views" in result.stdout
