"""pytest wiring of the suites: the system under test, the catalogue's cases, and the evidence.

    pytest suites/ --sut-role treatment [--sut-url builtin|URL] [--spec V1.1] [--profile guangzhou]
                   [--roster FILE] [--mutant NAME] [--cases 'JT-SET-*,2304']

``builtin`` (the default) starts yidi's own simulators for the run, so the suites work with no system of
one's own; ``--mutant`` then makes them deliberately wrong, which is how the suites are shown to catch
what they guard. A test names its case with ``@case("JT-ADM-002")``; the case's titles, rules and
severity become Allure labels and JUnit properties, and every message it exchanged is attached.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import allure
import httpx
import pytest

from ..actors import admin
from ..actors.his import His, Hospital, Refused, Reply, card_read
from ..simulators.app import Options
from ..simulators.background import Served, serving
from ..specs import loader
from ..specs.adapt import Adapter
from ..specs.model import Spec
from ..world import topology
from ..world.clock import real_now
from ..world.topology import Topology
from . import catalogue, diagnosis
from .cast import Cast
from .failures import UnexpectedRefusal

case = pytest.mark.case  # @case("JT-ADM-002")

# Each role's fixtures, as plugins rather than conftest.py files: pytest imports a conftest by its path,
# under a name it derives from the folders, which would load a second copy of the whole package.
pytest_plugins = [
    *(f"yidi.suites.{role}.fixtures" for role in ("his", "hub", "insured")),
    "yidi.suites.preflight",  # the world must be the system's before any case runs
    "yidi.suites.follow",  # every settlement checked to the cent against the oracle
    "yidi.suites.tidy",  # and no case leaves a stay open behind it
]

SUITES = Path(catalogue.__file__).parent


class CatalogueModule(pytest.Module):
    """A suite module imported by its name in the package (``yidi.suites.hub.test_admission``). pytest would
    import it by path, under a name taken from the checkout's folder, and the module's relative imports
    would then load the whole package a second time under that name."""

    def _getobj(self) -> Any:
        name = ".".join((__package__ or "yidi.suites", *self.path.relative_to(SUITES).with_suffix("").parts))
        return importlib.import_module(name)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if module_path.is_relative_to(SUITES) and module_path.name.startswith("test_"):
        return CatalogueModule.from_parent(parent, path=module_path)
    return None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("yidi suites")
    group.addoption(
        "--spec",
        dest="yidi_spec",
        default=None,
        help="spec version and profile, e.g. V1.1+guangzhou, or an overlay file (default: what the SUT says)",
    )
    group.addoption("--profile", dest="yidi_profile", help="regional profile, e.g. guangzhou")
    group.addoption("--sut-role", default="treatment", choices=catalogue.ROLES, help="the role the SUT plays")
    group.addoption(
        "--sut-url",
        default="builtin",
        help="where the SUT is; builtin: yidi's own simulators; manual[:PORT] (his role): serve the platform "
        "on PORT (8000) for a tester's real HIS",
    )
    group.addoption(
        "--world",
        type=Path,
        help="the SUT's world (world/README.md): its hospitals, persons, catalog and policy, which every "
        "expectation is computed from (default: yidi's embedded world)",
    )
    group.addoption(
        "--public-url",
        help="manual: the base URL the HIS should use for the platform served here (default: this host)",
    )
    group.addoption("--roster", type=Path, help="the SUT's test persons, hospitals and credentials (JSON)")
    group.addoption(
        "--admin-token",
        default=None,
        help="the credential of a yidi server's /admin endpoints reached by URL (default: YIDI_ADMIN_TOKEN)",
    )
    group.addoption(
        "--mutant", action="append", default=[], help="builtin only: a deliberately wrong behaviour"
    )
    group.addoption(
        "--cases", help="only these cases: comma-separated globs over ID, flow, rule, infno (JT-SET-*,2304)"
    )
    group.addoption(
        "--his-wait",
        type=float,
        help="his role: seconds to wait for each message the HIS should send (default 600 for a person, 30 "
        "builtin; or YIDI_HIS_TIMEOUT)",
    )
    group.addoption(
        "--tester-events",
        type=Path,
        help="his role: also write each case start, instruction and case end as a JSON line to this file, "
        "for a robot at the HIS",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "case(id): the catalogue case a test performs")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cases, role = catalogue.load(), config.getoption("sut_role")
    chosen = catalogue.select(cases, config.getoption("cases")) if config.getoption("cases") else cases
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("case")
        if marker is None:
            kept.append(item)
            continue
        found = cases.get(marker.args[0])
        if found is None:
            raise pytest.UsageError(f"{item.nodeid}: no case {marker.args[0]} in the catalogue")
        if found.id not in chosen or found.role != role:
            dropped.append(item)
            continue
        kept.append(item)
        item.user_properties += [
            ("case", found.id),
            ("rules", " ".join(found.rules)),
            ("severity", found.severity),
            ("mandatory", str(found.mandatory).lower()),
        ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A refusal that stops a case is the SUT's answer, so the case failed (never "could not be performed"),
    and its verdict names the real cause: a routing mistake as routing (suites/diagnosis.py)."""
    try:
        return (yield)
    except (Refused, UnexpectedRefusal) as e:
        sut = item.config.stash.get(SUT, None)
        better = diagnosis.reason(e, sut.world if sut is not None else None)
        if better is e:
            raise
        raise better from None


SUT = pytest.StashKey["Sut"]()  # the run's SUT, for whoever reports on the run
EXCHANGED = pytest.StashKey[list[Reply]]()  # the messages a case exchanged


def spec_ref(config: pytest.Config, default: str | None = None) -> str | None:
    """``--spec`` and ``--profile`` as one reference (V1.1+guangzhou); None: the base spec."""
    ref, profile = config.getoption("yidi_spec") or default, config.getoption("yidi_profile")
    if profile:
        version = loader.load(ref).version if ref else None
        return f"{version}+{profile}" if version else profile
    return ref


class Exchanged(list[Reply]):
    """The messages a case exchanged, in order; each of ``watchers`` sees each as it arrives (the money
    follower, suites/follow.py; the check for persons an earlier case left open, suites/tidy.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.watchers: list[Callable[[Reply], None]] = []

    def append(self, reply: Reply) -> None:
        super().append(reply)
        for watch in self.watchers:
            watch(reply)


@dataclass
class Sut:
    """The system under test as the suites reach it, and the messages each case exchanged."""

    spec: Spec
    world: Topology  # what every expectation is computed from
    roster: dict[str, Any]
    url: str  # its base URL (the simulators' own when builtin)
    builtin: bool  # yidi's own simulators: faults and the clock can be set through /admin
    exchanged: Exchanged = field(default_factory=Exchanged)
    left_open: dict[str, str] = field(default_factory=dict)  # psn_no → the case that could not close its stay
    served: Served | None = None  # the simulators when yidi serves them in this process
    # the header opening /admin of yidi's servers (the SUT when builtin; those behind a hub under test)
    admin: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # who plays each part the catalogue names (its persons and hospitals of yidi's embedded world)
        self.cast = Cast(topology.load(), self.world)
        self.adapter = Adapter(loader.load(version=self.spec.version), self.spec)  # the HIS's base ↔ wire

    def sent(self, reply: Reply) -> dict[str, Any]:
        """The input a message sent, in the base spec's shape (a regional profile may rename its nodes;
        yidi's own platform speaks the base spec)."""
        given = reply.request["input"]
        if reply.infno.startswith("Y"):
            return dict(given)
        return dict(self.adapter.to_base(reply.infno, "input", given))

    def hospital(self, code: str) -> Hospital:
        hospitals = (
            h for p in self.roster["provinces"] for h in p["hospitals"] if h["fixmedins_code"] == code
        )
        return Hospital.from_roster(_named(hospitals, f"定点医疗机构{code}"))

    def his(self, code: str) -> His:
        """A signed-in HIS client of the hospital; its messages are kept as the case's evidence."""
        his = Recording(self.spec, self.hospital(code), self.exchanged)
        his.sign_in()
        return his

    def person(self, key: str) -> dict[str, Any]:
        """The roster's test person (真人真卡), or one of its load crowd."""
        everyone = (*self.roster["persons"], *self.roster.get("crowd", ()))
        return _named((p for p in everyone if p["key"] == key), f"测试人员{key}")

    def card(self, key: str) -> dict[str, Any]:
        """What reading the person's card gives."""
        return card_read(self.person(key))

    def items(self, code: str, n: int = 6) -> list[tuple[str, float, float]]:
        """Fee lines the hospital's province lists in its catalog (code, quantity, unit price)."""
        return self.world.fee_items(code, n)


def _named(found: Iterator[dict[str, Any]], what: str) -> dict[str, Any]:
    """The roster entry a case names; a roster without it is a clear error, not a StopIteration."""
    entry = next(found, None)
    if entry is None:
        raise LookupError(
            f"测试名册中没有本用例所需的{what}：请在 --roster 中提供（或用 --cases 排除本用例）"
        )
    return entry


class Recording(His):
    def __init__(self, spec: Spec, hospital: Hospital, into: list[Reply]) -> None:
        super().__init__(spec, hospital)
        self.into = into

    def send(self, message: Any, *, headers: Any = None) -> Reply:
        reply = super().send(message, headers=headers)
        self.into.append(reply)
        return reply


@pytest.fixture(scope="session")
def sut(pytestconfig: pytest.Config) -> Iterator[Sut]:
    url, roster_file = pytestconfig.getoption("sut_url"), pytestconfig.getoption("roster")
    mutants, builtin = pytestconfig.getoption("mutant"), url == "builtin"
    manual = url == "manual" or url.startswith("manual:")  # yidi serves the platform; a person drives the SUT
    serves = builtin or manual
    with ExitStack() as stack:
        if manual and mutants:
            raise pytest.UsageError("--mutant applies to --sut-url builtin only")
        if serves:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="yidi-sut-"))
            options = Options(
                db=f"sqlite:///{folder}/state.db",
                mutants=mutants,
                spec=spec_ref(pytestconfig),
                self_check=False,  # the cases, not the simulators' own guard, must catch a wrong answer
                world=pytestconfig.getoption("world"),
                # a real HIS stamps real time, and the platform refuses times in its future (R-DATE-04):
                # served for one, the platform keeps real time, not the world's simulated date
                clock=real_now() if manual else None,
            )
            port = int(url.partition(":")[2] or 8000) if manual else None
            host, public = (
                ("0.0.0.0", pytestconfig.getoption("public_url")) if manual else ("127.0.0.1", None)
            )
            served = stack.enter_context(serving(options, port, host=host, public_url=public))
            # a person's HIS is told the public URL (or this host's name); yidi's own HIS keeps 127.0.0.1
            url, roster = served.sim.options.base_url if manual else served.url, served.roster
        elif mutants:
            raise pytest.UsageError("--mutant applies to --sut-url builtin only")
        elif roster_file is not None:
            roster = json.loads(roster_file.read_text(encoding="utf-8"))
        else:
            roster = fetch_roster(url, admin.headers(pytestconfig.getoption("admin_token")))
        spec = loader.load(spec_ref(pytestconfig, roster.get("spec")))
        world = topology.load(pytestconfig.getoption("world"))
        token = served.sim.admin_token if serves else pytestconfig.getoption("admin_token")
        sut = Sut(
            spec,
            world,
            roster,
            url.rstrip("/"),
            serves,
            served=served if serves else None,
            admin=admin.headers(token),
        )
        pytestconfig.stash[SUT] = sut
        yield sut


def fetch_roster(url: str, headers: dict[str, str]) -> dict[str, Any]:
    try:
        r = httpx.get(f"{url.rstrip('/')}/admin/roster", headers=headers)
        roster: dict[str, Any] = r.raise_for_status().json()
    except httpx.HTTPError as e:
        why = f"无法从被测系统取得测试名册 {url}/admin/roster（{e}），请用 --roster 提供"
        raise ConnectionError(why) from None
    return roster


@pytest.fixture(scope="session")
def yidi_spec(pytestconfig: pytest.Config) -> Spec:
    """The spec the run is certified against (what --spec and --profile name)."""
    return loader.load(spec_ref(pytestconfig))


@pytest.fixture
def joint_case(request: pytest.FixtureRequest, sut: Sut) -> catalogue.Case:
    """The catalogue case the test performs (its rules, steps), with the person and hospital of the world
    under test that play its part (not applicable where the world has none)."""
    marker = request.node.get_closest_marker("case")
    assert marker is not None, "joint_case needs @case(ID)"
    case = catalogue.load()[marker.args[0]]
    person, hospital = sut.cast(case.person, case.hospital)
    return replace(case, person=person, hospital=hospital)


@pytest.fixture(autouse=True)
def evidence(request: pytest.FixtureRequest) -> Iterator[None]:
    """Label the case for Allure and attach every message it exchanged."""
    marker = request.node.get_closest_marker("case")
    if marker is None:
        yield
        return
    c = catalogue.load()[marker.args[0]]
    allure.dynamic.title(f"{c.id} {c.zh}")
    allure.dynamic.description(f"{c.en}\n\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(c.steps, 1)))
    allure.dynamic.epic(c.role)
    allure.dynamic.feature(c.flow)
    allure.dynamic.story(c.id)
    allure.dynamic.severity(c.severity)
    allure.dynamic.tag(*c.rules)
    allure.dynamic.testcase(c.id, name=c.id)  # --allure-link-pattern tms:URL/{} turns it into a real link
    sut: Sut = request.getfixturevalue("sut")
    sut.exchanged.clear()
    yield
    request.node.stash[EXCHANGED] = list(sut.exchanged)
    for reply in sut.exchanged:
        allure.attach(
            json.dumps(
                {"request": reply.request, "response": reply.received or reply.body},
                ensure_ascii=False,
                indent=2,
            ),
            name=f"{reply.infno} {reply.msgid}",
            attachment_type=allure.attachment_type.JSON,
        )
