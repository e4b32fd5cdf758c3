"""The layers of ../shared/DESIGN.md §5 as import-linter contracts (pyproject.toml), on the real import
graph: the checkout is the package, so the tools read it as installed. Each contract is shown to break."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from importlinter import api
from importlinter.application.use_cases import _get_built_in_contract_types
from importlinter.domain.contract import Contract

ROOT = Path(__file__).parents[1]
CONTRACT_TYPES = dict(_get_built_in_contract_types())


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("yidi", cache_dir=None)


def contracts() -> list[Contract]:
    config = api.read_configuration(str(ROOT / "pyproject.toml"))
    return [
        CONTRACT_TYPES[options["type"]](options["name"], config["session_options"], options)
        for options in config["contracts_options"]
    ]


def test_the_tools_see_the_parts_import_each_other(graph: grimp.ImportGraph) -> None:
    # Before the checkout was the package, the parts were mapped into it and grimp saw no edge between them.
    assert graph.direct_import_exists(importer="yidi.simulators.gateway", imported="yidi.specs.envelope")
    assert graph.direct_import_exists(importer="yidi.suites.plugin", imported="yidi.simulators.app")
    assert {"yidi.world.topology", "yidi.actors.his", "yidi.reports.html"} <= graph.modules


@pytest.mark.parametrize("contract", contracts(), ids=lambda c: c.name.split(":")[0])
def test_the_contract_holds(contract: Contract, graph: grimp.ImportGraph) -> None:
    check = contract.check(graph, verbose=False)
    assert check.kept, check.metadata


# One wrong import each contract must refuse: upward across layers, sideways within one, reports reaching
# into the run, and a circle inside a part.
WRONG = {
    "Layers": [
        ("yidi.specs.loader", "yidi.suites.catalogue"),
        ("yidi.world.topology", "yidi.actors.his"),
        ("yidi.load.ledger", "yidi.suites.steps"),
    ],
    "Reports read": [("yidi.reports.html", "yidi.simulators.faults"), ("yidi.reports.html", "yidi.specs")],
    "No circle": [("yidi.simulators.store", "yidi.simulators.gateway")],
    "The oracle": [("yidi.suites.oracle.settle", "yidi.simulators.benefits")],
}


@pytest.mark.parametrize(
    ("contract", "wrong"),
    [(c, w) for c in contracts() for key, ws in WRONG.items() if c.name.startswith(key) for w in ws],
    ids=lambda x: x.name.split(":")[0] if isinstance(x, Contract) else " -> ".join(x),
)
def test_the_contract_refuses_a_wrong_import(
    contract: Contract, wrong: tuple[str, str], graph: grimp.ImportGraph
) -> None:
    spoilt = copy.deepcopy(graph)
    spoilt.add_import(importer=wrong[0], imported=wrong[1])
    assert not contract.check(spoilt, verbose=False).kept


def test_every_contract_has_a_wrong_import() -> None:
    assert {c.name for c in contracts()} == {
        c.name for c in contracts() for key in WRONG if c.name.startswith(key)
    }


def test_the_package_type_checks(tmp_path: Path) -> None:
    # mypy reads the checkout's own files, relative imports and all, under the package's name, as
    # .ci/typecheck does (a checkout's folder need not be named yidi, nor be a valid module name)
    (tmp_path / "yidi").symlink_to(ROOT, target_is_directory=True)
    config, cache = ROOT / "pyproject.toml", ROOT / ".mypy_cache"
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(cache)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_wheel_lists_every_subpackage() -> None:
    # the checkout is the package: a folder with an __init__.py that pyproject does not list would be left
    # out of a wheel while an editable install still finds it
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(("yidi", *init.parent.relative_to(ROOT).parts))
        for init in ROOT.rglob("__init__.py")
        if not {"tests", "bench", "build", ".venv"} & set(init.relative_to(ROOT).parts)
    }
    assert listed == on_disk
