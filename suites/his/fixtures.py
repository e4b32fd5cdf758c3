"""The his role's fixtures: yidi is the platform; the SUT is the HIS a tester (or, builtin, yidi's own
reference HIS) operates.

    pytest suites --sut-role his                      # builtin: the reference HIS performs every step
    pytest suites --sut-role his --mutant his-no-reversal   # … made wrong: the cases that guard it fail
    pytest suites --sut-role his --sut-url manual     # a tester performs the printed steps at a real HIS

``YIDI_HIS_TIMEOUT`` (seconds) bounds the wait for each message (600 manual, 30 builtin).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from ..catalogue import Case
from ..plugin import Sut
from .desk import Clerk, Desk, Speaker, timeout


@pytest.fixture(scope="session")
def briefed() -> set[str]:
    """The hospitals whose tester has been told how to reach the platform."""
    return set()


@pytest.fixture(scope="session")
def tester_events(pytestconfig: pytest.Config) -> Iterator[IO[str] | None]:
    """The JSON-lines stream of the tester's events (--tester-events), for a robot at the HIS."""
    path: Path | None = pytestconfig.getoption("tester_events")
    if path is None:
        yield None
        return
    with path.open("a", encoding="utf-8") as stream:
        yield stream


@pytest.fixture
def desk(
    sut: Sut,
    joint_case: Case,
    pytestconfig: pytest.Config,
    briefed: set[str],
    tester_events: IO[str] | None,
) -> Iterator[Desk]:
    """The platform's desk for one case: the case's hospital watched, its person's card at hand."""
    manual = str(pytestconfig.getoption("sut_url")).startswith("manual")
    if sut.served is None:
        raise pytest.UsageError(
            "his角色中yidi即医保平台：请用 --sut-url builtin（yidi参考HIS自动操作）"
            "或 manual（测试人员在HIS上操作）"
        )
    person = sut.person(joint_case.person)
    hospital = sut.hospital(joint_case.hospital)
    items = sut.items(joint_case.hospital)
    mutants = pytestconfig.getoption("mutant")
    clerk = None if manual else Clerk(sut.spec, hospital, sut.card(joint_case.person), items, mutants)
    loud = manual or (pytestconfig.getoption("verbose", 0) or 0) > 0
    tester = Speaker(pytestconfig, loud=loud, events=tester_events)
    if manual and hospital.fixmedins_code not in briefed:
        briefed.add(hospital.fixmedins_code)
        tester.say(
            f"〔{hospital.name} {hospital.fixmedins_code}〕请将HIS的医保接口地址配置为{hospital.gateway}，"
            f"x-tif-paasid={hospital.paasid}，密钥{hospital.secret}，签到【9001】后按以下指令操作；"
            f"平台时间{sut.served.sim.clock.now():%Y-%m-%d %H:%M:%S}"
            "（北京时间；HIS时钟超前10分钟以上的报文将被拒绝）"
        )
    found = Desk(
        sut.served.sim,
        sut.spec,
        hospital,
        person,
        items,
        tester,
        sut.exchanged,
        clerk=clerk,
        timeout=timeout(manual, pytestconfig.getoption("his_wait")),
    )
    case = {"case": joint_case.id, "hospital": hospital.fixmedins_code, "person": joint_case.person}
    tester.say(f"【用例开始】{joint_case.id} {joint_case.zh}：{found.who}")
    tester.event("case_start", **case, title=joint_case.zh, gateway=hospital.gateway)
    try:
        yield found
    finally:
        found.close()
        tester.say(f"【用例结束】{joint_case.id}：请停止为{found.who}操作，此后该人员的报文不再计入下一用例")
        tester.event("case_end", **case)
