"""pytest wiring shared by yidi's suites: which spec (version and regional profile) they run against.

The suites' own options (--sut-role, --sut-url, --roster, --mutant) come with their plugin.
"""

from __future__ import annotations

import pytest

from yidi.specs import loader
from yidi.specs.model import Spec

pytest_plugins = ["yidi.suites.plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("yidi")
    group.addoption(
        "--spec",
        dest="yidi_spec",
        default=None,
        help="spec version and profile, e.g. V1.1+guangzhou, or an overlay file (default: the base)",
    )


@pytest.fixture(scope="session")
def yidi_spec(pytestconfig: pytest.Config) -> Spec:
    """The spec the run is certified against."""
    return loader.load(pytestconfig.getoption("yidi_spec"))
