"""The roster: what a test team is told about a world served at a base URL. Regions, hospitals with their
gateways and credentials, the platforms' and the hub's own credentials, every test person with their card
and filings; and what reading a person's card gives a HIS (读卡)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import identity
from .topology import Person, Topology


def read_card(person: Person) -> dict[str, Any]:
    """What a card reader gives a HIS: the card, the holder, the e-voucher token."""
    return {
        "cardno": person.card.cardno,
        "card_sn": person.card.card_sn,
        "certno": person.certno,
        "psn_name": person.name,
        "admdvs": person.card.admdvs,
        "ectoken": identity.ectoken(person.psn_no),
    }


def roster(
    t: Topology, base_url: str, spec_ref: str, bases: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Everything a tester needs: regions, hospitals with their gateways and credentials, test persons.
    ``bases``: where a node is served when not at ``base_url`` (``hub``, ``province:510000`` → the base URL
    of the process serving it, in a deployment partitioned over processes or machines)."""
    here = base_url.rstrip("/")
    at = {name: url.rstrip("/") for name, url in (bases or {}).items()}

    def of(name: str) -> str:
        return at.get(name, here)

    return {
        "topology": t.name,
        "spec": spec_ref,
        # the hub's and the platforms' own credentials: a test team playing the hub (SUT: an insured
        # platform) or a treatment platform (SUT: the hub) signs with them
        "hub": {
            "url": f"{of('hub')}/hub",
            "code": t.hub.code,
            "paasid": t.hub.paasid,
            "secret": t.hub.secret,
        },
        "provinces": [
            {
                "admdvs": p.admdvs,
                "name": p.name,
                "regions": dict(p.regions),
                "insured_url": f"{of('province:' + p.admdvs)}/prov/{p.admdvs}",
                "platform": {
                    "code": p.platform.code,
                    "paasid": p.platform.paasid,
                    "secret": p.platform.secret,
                },
                "hospitals": [
                    {
                        "fixmedins_code": h.code,
                        "name": h.name,
                        "hosp_lv": h.hosp_lv,
                        "admdvs": h.admdvs,
                        "gateway": f"{of('province:' + p.admdvs)}/gw/{p.admdvs}",
                        "paasid": h.paasid,
                        "secret": h.secret,
                    }
                    for h in p.hospitals.values()
                ],
            }
            for p in t.provinces.values()
        ],
        "persons": [_roster_person(p) for p in t.persons.values() if not p.crowd],
        # the load crowd (压力测试人员): persons for load runs, apart from the joint-test scenarios
        "crowd": [_roster_person(p) for p in t.persons.values() if p.crowd],
    }


def _roster_person(p: Person) -> dict[str, Any]:
    return {
        "key": p.key,
        "psn_no": p.psn_no,
        "name": p.name,
        "certno": p.certno,
        "gend": p.gend,
        "brdy": p.brdy.isoformat(),
        "insuplc_admdvs": p.insuplc_admdvs,
        "insutype": p.insutype,
        "psn_type": p.psn_type,
        "card": {"cardno": p.card.cardno, "card_sn": p.card.card_sn, "status": p.card.status},
        "ectoken": identity.ectoken(p.psn_no),
        "filings": [
            {
                "sn": f.sn,
                "fil_type": f.fil_type,
                "mdtrtarea": f.mdtrtarea,
                "begndate": str(f.begndate),
                "enddate": str(f.enddate) if f.enddate else None,
                "status": f.status,
            }
            for f in p.filings
        ],
        "scenario": p.scenario,
    }
