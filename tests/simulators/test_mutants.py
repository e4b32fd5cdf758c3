"""Every mutant really does the wrong thing it names (so a suite that catches it proves something).
The right behaviour is asserted by the other tests; here, that each mutant breaks it."""

from __future__ import annotations

import time

import httpx
import pytest

from yidi.simulators.faults import MUTANTS
from yidi.simulators.his import Refused
from yidi.simulators.store import insured_settlements
from yidi.specs import examples, transport

from .conftest import Served
from .test_episodes import admitted, count, settled, ytd


def test_ignore_deductible(served: Served) -> None:
    served.faults(mutants=("ignore-deductible",))
    _, episode = settled(served, "P12", "H51010000001")
    assert episode.settlement["setlinfo"]["act_pay_dedc"] == 0  # type: ignore[index]


def test_skip_filing_check(served: Served) -> None:
    served.faults(mutants=("skip-filing-check",))
    _, episode = settled(served, "P05", "H50000000001")  # not filed, yet settled
    assert episode.settlement is not None


def test_pay_twice_on_retry(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")
    served.faults("duplicate-delivery", mutants=("pay-twice-on-retry",))
    his.settle(episode)
    assert count(served, insured_settlements) == 2  # one visit, paid twice at the insured side


def test_no_ytd_rollback(served: Served) -> None:
    served.faults(mutants=("no-ytd-rollback",))
    his, episode = settled(served, "P12", "H51010000001")
    his.cancel_settlement(episode)
    usage = ytd(served, "500000", episode.psn_no)["ytd"]["2026"]["inpatient"]
    assert float(usage["deductible"]) > 0  # still counted after the cancellation


def test_accept_bad_signature(served: Served) -> None:
    served.faults(mutants=("accept-bad-signature",))
    h = served.hospital("H51010000001")
    headers = {
        **transport.sign_headers(served.sim.spec, h.paasid, h.secret, now=time.time()),
        "x-tif-signature": "0" * 64,
    }
    message = examples.request(
        served.sim.spec, "9001", msgid=f"H51010000001{time.strftime('%Y%m%d%H%M%S')}0001"
    )
    assert httpx.post(f"{served.url}/gw/510000/9001", json=message, headers=headers).json()["infcode"] == 0


def test_skip_card_sn_check(served: Served) -> None:
    served.faults(mutants=("skip-card-sn-check",))
    his = served.his("H50000000001")
    assert his.person_info({**served.card("P01"), "card_sn": "0" * 32}, "03").ok


def test_every_mutant_has_a_test_here() -> None:
    names = {name.removeprefix("test_").replace("_", "-") for name in globals() if name.startswith("test_")}
    assert set(MUTANTS) <= names


def test_unknown_mutants_and_faults_are_refused(served: Served) -> None:
    r = httpx.post(f"{served.url}/admin/faults", json={"mutants": ["nonsense"]})
    assert r.status_code == 400 and "nonsense" in r.json()["detail"]
    with pytest.raises(Refused):  # and the simulator is unchanged: still correct
        his, episode = admitted(served, "P05", "H50000000001")
        his.settle(episode)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/admin/faults", b"not json"),
        ("/admin/faults", b"[1, 2]"),
        ("/admin/clock", b"not json"),
        ("/admin/clock", b'{"set": "the day after tomorrow"}'),
        ("/admin/clock", b'{"advance_seconds": "soon"}'),
    ],
)
def test_the_admin_endpoints_answer_bad_input_clearly(served: Served, path: str, body: bytes) -> None:
    before = httpx.get(f"{served.url}/admin/clock").json()["offset_seconds"]
    r = httpx.post(f"{served.url}{path}", content=body)
    assert r.status_code == 400 and r.json()["detail"]
    assert httpx.get(f"{served.url}/admin/clock").json()["offset_seconds"] == before  # nothing moved
