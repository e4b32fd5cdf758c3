"""``yidi certify``: run the catalogue for one role against a system under test, show progress, and turn
the run into a certification document (the reports render it) with a verdict a CI gate can use.

pytest is the engine: this runs the suites exactly as ``pytest suites/`` would (JUnit XML and Allure
results come from pytest's own plugins) and listens to the run through a small plugin object.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from ..actors.his import Reply
from ..simulators.faults import MUTANTS
from ..specs import diff, loader
from ..specs.model import Spec
from . import catalogue
from .cast import NotApplicable
from .document import summary, verdict
from .failures import Failure
from .plugin import EXCHANGED, SUT
from .preflight import WORLD_MISMATCH
from .tidy import Blocked

WORST = {o: i for i, o in enumerate(("passed", "not_applicable", "skipped", "blocked", "failed", "error"))}


@dataclass
class Request:
    """What the user asked for."""

    role: str = "treatment"
    sut: str = "builtin"
    spec: str | None = None
    profile: str | None = None
    cases: str | None = None
    mutants: list[str] = field(default_factory=list)
    roster: Path | None = None
    out: Path = Path("yidi-report")
    world: Path | None = None  # the SUT's world; None: yidi's embedded one
    his_wait: float | None = None  # his role: seconds to wait for each message
    tester_events: Path | None = None  # his role: the tester's events as JSON lines
    # of a yidi server by URL; never in the document
    admin_token: str | None = field(default=None, repr=False)
    # what the SUT is, named on its certificate: {"product": …, "version": …}
    system: dict[str, str] = field(default_factory=dict)
    public_url: str | None = None  # manual: the base URL the HIS is told

    def pytest_args(self) -> list[str]:
        suites = Path(catalogue.__file__).parent
        args = [
            str(suites),
            f"--rootdir={suites}",
            "-c",
            os.devnull,  # whatever pytest configuration the current directory has is not the catalogue's
            "-p",
            "yidi.suites.plugin",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:terminal",  # the progress is ours
            f"--sut-role={self.role}",
            f"--sut-url={self.sut}",
            f"--junitxml={self.out / 'junit.xml'}",
            f"--alluredir={self.out / 'allure-results'}",
            "--clean-alluredir",
            *(f"--mutant={m}" for m in self.mutants),
        ]
        for option, value in (
            ("--spec", self.spec),
            ("--profile", self.profile),
            ("--cases", self.cases),
            ("--roster", self.roster),
            ("--world", self.world.resolve() if self.world else None),
            ("--his-wait", self.his_wait),
            ("--public-url", self.public_url),
            ("--tester-events", self.tester_events.resolve() if self.tester_events else None),
            ("--admin-token", self.admin_token),
        ):
            args += [f"{option}={value}"] if value else []
        return args

    def command(self) -> str:
        words = ["yidi certify", f"--role {self.role}"]
        words += [f"--sut {self.sut}"] if self.sut != "builtin" else []
        if self.system and self.sut != "builtin":
            words += [
                f"--sut-product '{self.system['product']}'",
                f"--sut-version '{self.system['version']}'",
            ]
        words += [f"--spec {self.spec}"] if self.spec else []
        words += [f"--profile {self.profile}"] if self.profile else []
        words += [f"--cases '{self.cases}'"] if self.cases else []
        words += [f"--world {self.world}"] if self.world else []
        words += [f"--mutant {m}" for m in self.mutants]
        return " ".join(words)


@dataclass
class Outcome:
    """One case's verdict as the run saw it."""

    case: catalogue.Case
    outcome: str = "passed"
    seconds: float = 0.0
    reason: str | None = None
    expected: Any = None
    actual: Any = None
    failure: Failure | None = None  # a case's own verdict: its rule, message and what happened, as data
    messages: list[Reply] = field(default_factory=list)

    def worsen(
        self,
        outcome: str,
        reason: str | None,
        expected: Any = None,
        actual: Any = None,
        failure: Failure | None = None,
    ) -> None:
        if WORST[outcome] > WORST[self.outcome]:
            self.outcome, self.reason, self.expected, self.actual = outcome, reason, expected, actual
            self.failure = failure


class Listener:
    """A pytest plugin object: each case's outcome, why, and the messages it exchanged."""

    def __init__(self, on_start: Callable[[int], None], on_case: Callable[[Outcome], None]) -> None:
        self.on_start, self.on_case = on_start, on_case
        self.outcomes: dict[str, Outcome] = {}
        self.problems: list[str] = []  # what stopped cases from being collected or run
        self.spec: tuple[str, str] | None = None
        self.spoken: Spec | None = None  # the spec the SUT speaks, for the titles the document carries

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(f"{report.nodeid}: {report.longreprtext.strip().splitlines()[-1]}")

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.on_start(len(session.items))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        found = catalogue.load().get(str(dict(item.user_properties).get("case")))
        if found is None:
            return report
        outcome = self.outcomes.setdefault(found.id, Outcome(found))
        outcome.seconds += report.duration
        if report.skipped and call.excinfo is not None:
            e = call.excinfo.value
            kind = "not_applicable" if isinstance(e, NotApplicable) else "skipped"
            outcome.worsen("blocked" if isinstance(e, Blocked) else kind, str(e))
        elif report.failed:
            self._failed(outcome, report.when, call)
        if report.when == "teardown":
            exchanged: list[Reply] | None = item.stash.get(EXCHANGED, None)
            outcome.messages += exchanged or []
            self.on_case(outcome)
        return report

    @staticmethod
    def _failed(outcome: Outcome, when: str, call: pytest.CallInfo[None]) -> None:
        assert call.excinfo is not None
        e = call.excinfo.value
        if isinstance(e, Failure):
            outcome.worsen("failed", e.text(), e.expected, e.actual, e)
        elif when == "call" and isinstance(e, AssertionError | pytest.fail.Exception):
            outcome.worsen("failed", call.excinfo.exconly())
        else:  # the case could not be performed: the SUT unreachable, a broken answer, a bug of ours
            outcome.worsen("error", f"{when}: {call.excinfo.exconly()}")

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        sut = session.config.stash.get(SUT, None)
        if sut is not None:
            self.spec, self.spoken = (sut.spec.version, sut.spec.profile), sut.spec
        mismatch: list[str] = session.config.stash.get(WORLD_MISMATCH, [])
        self.problems += mismatch


def run(request: Request, listener: Listener) -> int:
    request.out.mkdir(parents=True, exist_ok=True)
    return int(pytest.main(request.pytest_args(), plugins=[listener]))


def since(old: str, request: Request) -> str:
    """The ``--cases`` expression for re-certification after a spec change from ``old`` (every case whose
    transactions or rules the change touches, plus the smoke set)."""
    change = diff.diff(loader.load(old), loader.load(request.spec, profile=request.profile))
    cases = set(catalogue.affected(catalogue.load(), change)) | {
        c.id for c in catalogue.load().values() if c.smoke
    }
    return ",".join(sorted(cases)) or "-"  # "-": no case (nothing matches it)


def document(request: Request, listener: Listener, started: float, finished: float) -> dict[str, Any]:
    """The certification document (format ``yidi-certification/1``) the reports are rendered from. It
    describes itself: the titles of its mutants, transactions and rules are in it (``titles``), so that
    a report needs nothing of this yidi, or of its spec, to show them."""
    outcomes = sorted(listener.outcomes.values(), key=lambda o: o.case.id)
    cases = [_case(o) for o in outcomes]
    # With mutants the run is a demonstration: it fails when any case caught the wrong behaviour.
    caught = any(x.outcome in ("failed", "error") for x in outcomes) if request.mutants else False
    passes = cases and verdict(cases) == "pass" and not caught and not listener.problems
    version_, profile = listener.spec or (loader.load(request.spec).version, request.profile)
    return {
        "format": "yidi-certification/1",
        "yidi_version": version("yidi"),
        "role": request.role,
        "sut": request.sut,
        "system": {**request.system, "address": request.sut},
        "spec": {"version": version_, "profile": None if profile in (None, "base") else profile},
        "mutants": request.mutants,
        # a run of some cases only (--cases, --since) is not a certificate, whatever its verdict
        "scope": {"partial": bool(request.cases), "cases": request.cases},
        "command": request.command(),
        "started": _iso(started),
        "finished": _iso(finished),
        "duration_s": round(finished - started, 2),
        "verdict": "pass" if passes else "fail",
        "problems": listener.problems,
        "summary": summary(cases),
        "titles": titles(
            listener.spoken or loader.load(request.spec, profile=request.profile), request, cases
        ),
        "cases": cases,
    }


def titles(spec: Spec, request: Request, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """What the report names beside the codes: each mutant of the run (its rule, in Chinese and English),
    each transaction the cases name or exchanged, and each rule they cite or failed on (its wording)."""
    failures = [c["failure"] for c in cases if c["failure"]]
    kinds = {m: MUTANTS[m] for m in request.mutants if m in MUTANTS}
    infnos = {t for c in cases for t in c["transactions"]} | {
        str(m["infno"]) for c in cases for m in c["messages"]
    }
    infnos |= {f["infno"] for f in failures if f["infno"]}
    rules = {r for c in cases for r in c["rules"]} | {f["rule"] for f in failures if f["rule"]}
    rules |= {k.rule for k in kinds.values() if k.rule}
    return {
        "mutants": {m: {"rule": k.rule or None, "zh": k.zh, "en": k.en} for m, k in kinds.items()},
        "transactions": {
            t: {"zh": spec.transactions[t].zh, "en": spec.transactions[t].en}
            for t in sorted(infnos)
            if t in spec.transactions
        },
        "rules": {
            r: {"zh": spec.rules[r].zh, "en": spec.rules[r].en} for r in sorted(rules) if r in spec.rules
        },
    }


def _case(o: Outcome) -> dict[str, Any]:
    c = o.case
    return {
        "id": c.id,
        "zh": c.zh,
        "en": c.en,
        "role": c.role,
        "flow": c.flow,
        "rules": list(c.rules),
        "transactions": list(c.transactions),
        "severity": c.severity,
        "mandatory": c.mandatory,
        "person": c.person,
        "hospital": c.hospital,
        "steps": list(c.steps),
        "outcome": o.outcome,
        "duration_s": round(o.seconds, 3),
        "reason": o.reason,
        "failure": o.failure.as_dict() if o.failure is not None else None,
        "expected": o.expected,
        "actual": o.actual,
        "messages": [
            {
                "infno": m.infno,
                "msgid": m.msgid,
                "headers": m.headers,  # x-tif: who signed the request, and how
                "request": m.request,
                "response": m.received or m.body,  # the evidence is what the SUT sent
                "seconds": round(m.seconds, 4),
            }
            for m in o.messages
        ],
    }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")
