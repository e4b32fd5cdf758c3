"""Before the cases: does the system under test know the world it is certified with? Each test person with
a valid card is looked up the way the role's cases will (1101 at a hospital of the treatment platform,
Y1101 relayed to the insured platform); a person the system does not know, or knows by another psn_no or
name, means the world file is not the system's, which is one clear error rather than fifty failed cases.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..actors.his import LostAnswer, Refused, Reply
from ..world.roster import read_card
from ..world.topology import Person
from .insured.client import as_hub, province
from .plugin import Sut

WORLD_MISMATCH = pytest.StashKey[list[str]]()
CHECKED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def preflight(request: pytest.FixtureRequest) -> None:
    """A system by URL certified with a world file: the world must be the system's, checked once before the
    first case runs (tests that are not catalogue cases are left alone)."""
    config = request.config
    if request.node.get_closest_marker("case") is None or CHECKED in config.stash:
        return
    config.stash[CHECKED] = True
    sut: Sut = request.getfixturevalue("sut")
    if sut.served is not None or config.getoption("world") is None:
        return  # yidi serves the world itself
    found = mismatches(sut, config.getoption("sut_role"))
    if found:
        more = f"（另有{len(found) - 1}处）" if len(found) > 1 else ""
        why = f"世界文件与被测系统不一致 the world is not the system's: {found[0]}{more}"
        config.stash[WORLD_MISMATCH] = [why]
        pytest.exit(why, returncode=4)


def mismatches(sut: Sut, role: str) -> list[str]:
    """What the system says differently from the world about its persons, one line each (Chinese)."""
    if role not in ("treatment", "insured"):
        return []  # the hub and the his roles are checked through yidi's own provinces and platform
    found = []
    for person in (p for p in sut.world.persons.values() if not p.crowd):
        if person.card.status != "1" or person.psn_insu_stas != "1":
            continue  # a person meant to be refused says nothing about the world
        try:
            reply = (_treatment if role == "treatment" else _insured)(sut, person)
        except (Refused, LostAnswer) as e:
            found.append(f"{person.key}（{person.name}）：被测系统不认识此人（{e}）")
            continue
        base = reply.output["baseinfo"]
        if (base.get("psn_no"), base.get("psn_name")) != (person.psn_no, person.name):
            found.append(
                f"{person.key}：世界文件为{person.psn_no} {person.name}，被测系统答{base.get('psn_no')} "
                f"{base.get('psn_name')}"
            )
    return found


def _treatment(sut: Sut, person: Person) -> Reply:
    """1101 by the world's ID number at the platform's first hospital."""
    hospital: dict[str, Any] = sut.roster["provinces"][0]["hospitals"][0]
    return sut.his(str(hospital["fixmedins_code"])).person_info(read_card(person), "02")


def _insured(sut: Sut, person: Person) -> Reply:
    """Y1101 by the world's ID number, relayed to the person's insured platform from another province."""
    home = province(sut.roster, person.insuplc_admdvs)
    elsewhere = next(p for p in sut.roster["provinces"] if p["admdvs"] != home["admdvs"])
    code = str(elsewhere["hospitals"][0]["fixmedins_code"])
    return as_hub(sut, code).person_info(read_card(person), "02", code)
