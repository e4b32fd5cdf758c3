"""The province↔hub interface (the spec's Y-transactions) spoken by yidi, for the platform roles.

With an insured-province platform (参保地平台) as the SUT, yidi is the national hub: it relays what a
treatment province sends (Y1101 person lookup, Y2401 admission, Y2303/Y2304 settlement by category totals,
Y2305, Y2601, Y2404, Y5206, and Y2301 the fee lines after the fact), signed with the hub's own
credentials, to the SUT's insured endpoint. With the hub as the SUT, yidi is the treatment province: the
same messages, signed with its platform's credentials, sent to the hub. Either way the envelope is the
treatment province's, as the hub relays it unchanged.

Each message starts from the spec's example of its nodes (as the HIS client does) with the visit's real
values set on top. The fee totals are those the treatment province's catalog gives for the hospital's
bill (实时传大类): what yidi's own treatment platform would send for the same stay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from ...actors.his import Insured, LostAnswer, Refused, Reply, credential, msgids
from ...simulators.catalog import Split, categories, classify
from ...specs import envelope, examples, loader, transport
from ...specs.envelope import datetime_text
from ...specs.model import Spec
from ...specs.money import yuan
from ...world.clock import real_now
from ...world.topology import CatalogEntry, Topology
from ..plugin import Sut
from ..steps import answered, fail, refused, unexpected_refusal


@dataclass(frozen=True)
class Credentials:
    """A system's account at a gateway: its code (msgid prefix), x-tif-paasid and secret."""

    code: str
    paasid: str
    secret: str

    @classmethod
    def from_roster(cls, entry: Mapping[str, Any]) -> Credentials:
        return cls(str(entry["code"]), str(entry["paasid"]), str(entry["secret"]))


def province(roster: Mapping[str, Any], admdvs: str) -> Mapping[str, Any]:
    """The roster's entry of the province an admdvs (province, city or county) belongs to."""
    found: Mapping[str, Any] | None = next(
        (p for p in roster["provinces"] if p["admdvs"][:2] == admdvs[:2]), None
    )
    if found is None:
        raise KeyError(f"no province {admdvs} in the roster")
    return found


def treatment_province(roster: Mapping[str, Any], code: str) -> Mapping[str, Any]:
    """The roster's entry of the province whose platform hospital ``code`` sends through."""
    return next(p for p in roster["provinces"] if any(h["fixmedins_code"] == code for h in p["hospitals"]))


def bill(t: Topology, code: str, lines: int) -> dict[str, Split]:
    """What the hospital's treatment province sends for ``lines`` billed items: totals per 医疗收费项目类别,
    split by its catalog (甲/乙/丙, price caps)."""
    return categories(
        (entry.item.med_chrgitm_type, split) for entry, _, _, split in fee_lines(t, code, lines)
    )


@dataclass
class Visit(Insured):
    """One cross-province stay as the treatment province reports it to the insured side."""

    person: dict[str, Any]  # the Y1101 output
    hospital: Mapping[str, Any]  # the roster's hospital entry
    mdtrt_id: str
    begntime: str
    fees: dict[str, Split]  # 医疗收费项目类别 → totals
    cert: tuple[str, str]  # mdtrt_cert_type, mdtrt_cert_no
    card_sn: str = ""
    med_type: str = "21"
    presettlement: dict[str, Any] | None = None
    settlement: dict[str, Any] | None = None  # the Y2304 output
    settle_msgid: str = ""

    @property
    def insuplc_admdvs(self) -> str:
        return str(self.person["insuinfo"][0]["insuplc_admdvs"])

    @property
    def split(self) -> Split:
        return sum(self.fees.values(), Split())


@dataclass
class Platform:
    """Sends the Y-transactions of one treatment province, signed by ``signer``, to ``url(admdvs)`` (the
    base URL serving the insured province of that admdvs); every exchange is kept in ``into``."""

    spec: Spec
    treatment: Mapping[str, Any]  # the roster's entry of the treatment province
    signer: Credentials
    url: Callable[[str], str]
    into: list[Reply]
    world: Topology  # the catalogs its bills are classified by
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))

    def __post_init__(self) -> None:
        self.spec = loader.load(version=self.spec.version)  # the hub interface has no regional shapes
        self.sender = Credentials.from_roster(self.treatment["platform"])
        self.name = f"{self.treatment['name']}医保信息平台"
        self.msgids = msgids(self.sender.code)
        # visit and settlement IDs as the treatment province numbers them: admdvs + time + serial
        self.ids = envelope.RefMsgIds(self.treatment["admdvs"], start=int(time.time() * 1000) % 10**9 * 10)

    # ── one transaction ────────────────────────────────────────────

    def message(
        self, infno: str, input: Mapping[str, Any], *, insuplc_admdvs: str, msgid: str | None = None
    ) -> dict[str, Any]:
        now = real_now()
        return envelope.request(
            self.spec,
            infno,
            dict(input),
            msgid=msgid or self.msgids(now),
            when=now,
            mdtrtarea_admvs=self.treatment["admdvs"],
            insuplc_admdvs=insuplc_admdvs,
            recer_sys_code="YBXT",
            infver=self.spec.version,
            opter_type="2",
            opter=self.sender.code,
            opter_name=self.name,
            fixmedins_code=self.sender.code,
            fixmedins_name=self.name,
        )

    def signed(self) -> dict[str, str]:
        return transport.sign_headers(self.spec, self.signer.paasid, self.signer.secret, now=time.time())

    def forged(self) -> dict[str, str]:
        """Headers as a forger sends them: the right account and a fresh nonce, a wrong signature."""
        names = self.spec.transport["signature"]["headers"]
        return {**self.signed(), names["signature"]: "0" * 64}

    def send(
        self, message: Mapping[str, Any], *, to: str = "", headers: Mapping[str, str] | None = None
    ) -> Reply:
        """POST the message to whoever serves the insured province ``to`` (default: its insuplc_admdvs)."""
        infno, msgid = str(message["infno"]), str(message["msgid"])
        signed = dict(headers if headers is not None else self.signed())
        started = time.perf_counter()
        try:
            r = self.client.post(
                f"{self.url(to or str(message['insuplc_admdvs']))}/{infno}",
                json=dict(message),
                headers=signed,
            )
        except httpx.HTTPError as e:
            raise LostAnswer(infno, msgid, repr(e)) from e
        if r.status_code != 200:
            raise LostAnswer(infno, msgid, f"HTTP {r.status_code}")
        seconds, tif = time.perf_counter() - started, transport.tif_headers(self.spec, signed)
        reply = Reply(infno, msgid, dict(message), r.json(), seconds, headers=tif)
        self.into.append(reply)
        return reply

    def checked(self, reply: Reply) -> Reply:
        if not reply.ok:
            raise Refused(reply)
        return reply

    def node(self, infno: str, name: str, **values: Any) -> dict[str, Any]:
        """The spec's example of one input node, with these values set."""
        return {**examples.node(self.spec, self.spec.transaction(infno).input[name]), **values}

    # ── the steps of a cross-province stay ─────────────────────────

    def person_info(
        self, card: Mapping[str, Any], cert_type: str, code: str, *, headers: Mapping[str, str] | None = None
    ) -> Reply:
        """Y1101 as the treatment province asks when hospital ``code`` reads the card; it goes to the card
        holder's insured province (the hub knows it from the credential)."""
        cert = credential(card, cert_type)
        where = hospital_of(self, code)
        data = self.node(
            "Y1101",
            "data",
            mdtrt_cert_type=cert[0],
            mdtrt_cert_no=cert[1],
            mdtrtarea_admdvs=where["admdvs"],
            fixmedins_code=code,
        )
        data.pop("card_sn", None)
        if cert_type == "03":
            data["card_sn"] = card["card_sn"]
        message = self.message("Y1101", {"data": data}, insuplc_admdvs="")
        return self.send(message, to=str(card["admdvs"]), headers=headers)

    def visit(
        self,
        person: Mapping[str, Any],
        code: str,
        *,
        card: Mapping[str, Any] | None = None,
        cert_type: str = "02",
        lines: int = 14,
        med_type: str = "21",
    ) -> Visit:
        """A new stay of the person (the Y1101 output) at hospital ``code``, billed ``lines`` items."""
        cert = credential(card, cert_type) if card else ("02", str(person["baseinfo"]["certno"]))
        return Visit(
            dict(person),
            hospital_of(self, code),
            self.ids(real_now()),
            datetime_text(real_now()),
            bill(self.world, code, lines),
            cert,
            str(card["card_sn"]) if card and cert_type == "03" else "",
            med_type,
        )

    def admission(self, visit: Visit) -> dict[str, Any]:
        h = visit.hospital
        info = self.node(
            "Y2401",
            "mdtrtinfo",
            mdtrt_id=visit.mdtrt_id,
            psn_no=visit.psn_no,
            insutype=visit.insutype,
            med_type=visit.med_type,
            begntime=visit.begntime,
            mdtrt_cert_type=visit.cert[0],
            mdtrt_cert_no=visit.cert[1],
            fixmedins_code=h["fixmedins_code"],
            fixmedins_name=h["name"],
            hosp_lv=h["hosp_lv"],
            mdtrtarea_admdvs=h["admdvs"],
        )
        info.pop("card_sn", None)
        if visit.cert[0] == "03":
            info["card_sn"] = visit.card_sn
        return self.message("Y2401", {"mdtrtinfo": info}, insuplc_admdvs=visit.insuplc_admdvs)

    def claim(self, visit: Visit, infno: str, *, use_account: bool = True) -> dict[str, Any]:
        """Y2303 / Y2304: the stay's totals per category, never its items (实时传大类)."""
        h, split, now = visit.hospital, visit.split, real_now()
        values: dict[str, Any] = {
            "mdtrt_id": visit.mdtrt_id,
            "psn_no": visit.psn_no,
            "insutype": visit.insutype,
            "med_type": visit.med_type,
            "begntime": visit.begntime,
            "endtime": datetime_text(now),
            "fixmedins_code": h["fixmedins_code"],
            "fixmedins_name": h["name"],
            "hosp_lv": h["hosp_lv"],
            "mdtrtarea_admdvs": h["admdvs"],
            "psn_setlway": "01",
            "acct_used_flag": "1" if use_account else "0",
            "mid_setl_flag": "0",
            **amounts(split),
        }
        if infno == "Y2304":  # the treatment side's settlement ID and the hospital's 2304 msgid
            values.update(setl_id=self.ids(now), medins_setl_id=msgids(h["fixmedins_code"])(now))
        feecate = [
            self.node(
                infno,
                "feecate",
                med_chrgitm_type=kind,
                det_item_fee_sumamt=float(s.total),
                fulamt_ownpay_amt=float(s.fulamt_ownpay),
                overlmt_amt=float(s.overlmt),
                preselfpay_amt=float(s.preselfpay),
                inscp_scp_amt=float(s.inscp),
            )
            for kind, s in visit.fees.items()
        ]
        return self.message(
            infno,
            {"setlinfo": self.node(infno, "setlinfo", **values), "feecate": feecate},
            insuplc_admdvs=visit.insuplc_admdvs,
        )

    def presettle(self, visit: Visit, *, use_account: bool = True) -> Reply:
        reply = self.checked(self.send(self.claim(visit, "Y2303", use_account=use_account)))
        visit.presettlement = reply.output
        return reply

    def settle(self, visit: Visit, *, use_account: bool = True) -> Reply:
        reply = self.checked(self.send(self.claim(visit, "Y2304", use_account=use_account)))
        visit.settlement, visit.settle_msgid = reply.output, reply.msgid
        return reply

    def cancel(self, visit: Visit) -> Reply:
        """Y2305 of the stay's settlement."""
        assert visit.settlement is not None, "cancel needs a settlement"
        data = self.node(
            "Y2305",
            "data",
            mdtrt_id=visit.mdtrt_id,
            setl_id=visit.settlement["setlinfo"]["setl_id"],
            psn_no=visit.psn_no,
        )
        return self.checked(
            self.send(self.message("Y2305", {"data": data}, insuplc_admdvs=visit.insuplc_admdvs))
        )

    def reverse(self, visit: Visit, omsgid: str, oinfno: str) -> Reply:
        """Y2601 of an earlier message by its msgid; the answer is returned whatever it is."""
        data = self.node("Y2601", "data", psn_no=visit.psn_no, omsgid=omsgid, oinfno=oinfno)
        return self.send(self.message("Y2601", {"data": data}, insuplc_admdvs=visit.insuplc_admdvs))

    def details(self, visit: Visit, lines: int = 14) -> list[dict[str, Any]]:
        """The settled stay's fee lines (``lines`` billed, as its claim added them up), as Y2301 feedetail
        rows: details after the fact (事后传明细)."""
        return [
            self.node(
                "Y2301",
                "feedetail",
                feedetl_sn=f"{n:04d}",
                fee_ocur_time=visit.begntime,
                med_list_codg=entry.item.code,
                medins_list_codg=entry.item.code,
                det_item_fee_sumamt=float(split.total),
                cnt=cnt,
                pric=pric,
                pric_uplmt_amt=None if entry.price_cap is None else float(entry.price_cap),
                selfpay_prop=float(entry.selfpay_prop),
                fulamt_ownpay_amt=float(split.fulamt_ownpay),
                overlmt_amt=float(split.overlmt),
                preselfpay_amt=float(split.preselfpay),
                inscp_scp_amt=float(split.inscp),
                chrgitm_lv=entry.chrgitm_lv,
                med_chrgitm_type=entry.item.med_chrgitm_type,
            )
            for n, (entry, cnt, pric, split) in enumerate(
                fee_lines(self.world, visit.hospital["fixmedins_code"], lines), 1
            )
        ]

    def send_details(self, visit: Visit, rows: list[dict[str, Any]], totalrow: int) -> Reply:
        """Y2301: one batch of the settled stay's fee lines; the answer, whatever it is."""
        assert visit.settlement is not None, "details follow a settlement"
        data = self.node(
            "Y2301",
            "data",
            mdtrt_id=visit.mdtrt_id,
            setl_id=visit.settlement["setlinfo"]["setl_id"],
            psn_no=visit.psn_no,
            totalrow=totalrow,
        )
        message = self.message(
            "Y2301", {"data": data, "feedetail": rows}, insuplc_admdvs=visit.insuplc_admdvs
        )
        return self.send(message)

    def cancel_admission(self, visit: Visit) -> Reply:
        data = self.node("Y2404", "data", mdtrt_id=visit.mdtrt_id, psn_no=visit.psn_no)
        return self.checked(
            self.send(self.message("Y2404", {"data": data}, insuplc_admdvs=visit.insuplc_admdvs))
        )

    def totals(self, visit: Visit, cum_ym: str | None = None) -> Reply:
        """Y5206: the person's running totals for the insurance year of ``cum_ym`` (yyyyMM; default this
        month); the answer is returned whatever it is."""
        data = self.node("Y5206", "data", psn_no=visit.psn_no, cum_ym=cum_ym)
        return self.send(self.message("Y5206", {"data": data}, insuplc_admdvs=visit.insuplc_admdvs))


def fee_lines(t: Topology, code: str, lines: int) -> list[tuple[CatalogEntry, Any, Any, Split]]:
    """The ``lines`` items hospital ``code`` bills, each with the split its treatment province's catalog gives
    it: what :func:`bill` adds up by category, line by line."""
    found = t.hospital(code)
    where = t.province_of(found.admdvs) if found else None
    if where is None:
        raise KeyError(f"no hospital {code} in the world")
    return [
        (
            where.catalog[item],
            cnt,
            pric,
            classify(where.catalog[item], cnt, pric, yuan(Decimal(str(cnt)) * Decimal(str(pric)))),
        )
        for item, cnt, pric in t.fee_items(code, lines)
    ]


def amounts(split: Split) -> dict[str, float]:
    """The settlement request's totals of a split (medfee_sumamt and its four policy ranges)."""
    return {
        "medfee_sumamt": float(split.total),
        "fulamt_ownpay_amt": float(split.fulamt_ownpay),
        "overlmt_selfpay": float(split.overlmt),
        "preselfpay_amt": float(split.preselfpay),
        "inscp_scp_amt": float(split.inscp),
    }


def hospital_of(platform: Platform, code: str) -> Mapping[str, Any]:
    found: Mapping[str, Any] | None = next(
        (h for h in platform.treatment["hospitals"] if h["fixmedins_code"] == code), None
    )
    if found is None:
        raise KeyError(f"{code} is not a hospital of {platform.treatment['admdvs']}")
    return found


# ── yidi in either platform role ───────────────────────────────────


def as_hub(sut: Sut, code: str) -> Platform:
    """yidi as the national hub, relaying what hospital ``code``'s treatment province sends to the insured
    platforms (SUT role insured), signed with the hub's credentials."""
    roster = sut.roster
    return Platform(
        sut.spec,
        treatment_province(roster, code),
        Credentials.from_roster(roster["hub"]),
        lambda admdvs: str(province(roster, admdvs)["insured_url"]),
        sut.exchanged,
        sut.world,
    )


def as_treatment(sut: Sut, code: str) -> Platform:
    """yidi as hospital ``code``'s treatment province, sending to the national hub (SUT role hub), signed
    with its platform's credentials."""
    roster = sut.roster
    where = treatment_province(roster, code)
    return Platform(
        sut.spec,
        where,
        Credentials.from_roster(where["platform"]),
        lambda _: str(roster["hub"]["url"]),
        sut.exchanged,
        sut.world,
    )


def ok(reply: Reply) -> Reply:
    """The answer, which must be a success: anything else fails the case naming the message."""
    if not reply.ok:
        unexpected_refusal(Refused(reply))
    return reply


def admitted(
    platform: Platform,
    card: Mapping[str, Any],
    code: str,
    *,
    cert_type: str = "02",
    lines: int = 14,
    med_type: str = "21",
) -> Visit:
    """Y1101 → Y2401 for a new stay (or, by ``med_type``, outpatient visit) at hospital ``code``, both
    expected to succeed."""
    info = ok(platform.person_info(card, cert_type, code))
    visit = platform.visit(info.output, code, card=card, cert_type=cert_type, lines=lines, med_type=med_type)
    ok(platform.send(platform.admission(visit)))
    return visit


def refused_unsigned(platform: Platform, message: Mapping[str, Any]) -> None:
    """A message with a wrong signature is refused (-1, E2002, R-SEC-02) and leaves no trace: the same msgid,
    properly signed, then goes through."""
    reply = refused(lambda: platform.send(message, headers=platform.forged()), "E2002", "R-SEC-02")
    if reply.infcode != -1:
        fail(
            f"签名错误应答infcode应为-1，实际{reply.infcode}",
            rule="R-SEC-02",
            on=reply,
            expected={"infcode": -1},
            actual={"infcode": reply.infcode},
        )
    answered(platform.send(message), "以正确签名重发同一msgid应成功")


def refused_replayed(platform: Platform, card: Mapping[str, Any], code: str) -> None:
    """Between platforms too, the gateway checks the nonce and the timestamp (R-SEC-04/05): headers that
    carried one message are refused on another (E2005), a correctly signed but stale timestamp is refused
    (E2004), and neither leaves a trace: the admission, freshly signed, then goes through."""
    captured = platform.signed()
    info = ok(platform.person_info(card, "02", code, headers=captured))
    admission = platform.admission(platform.visit(info.output, code))
    refused(lambda: platform.send(admission, headers=captured), "E2005", "R-SEC-05")
    window = int(platform.spec.transport["signature"]["timestamp_window_seconds"])
    signer = platform.signer
    stale = transport.sign_headers(platform.spec, signer.paasid, signer.secret, now=time.time() - window - 60)
    refused(lambda: platform.send(admission, headers=stale), "E2004", "R-SEC-04")
    answered(platform.send(admission), "重放与过期的报文被拒后，以新的签名头发送同一msgid应成功")


def resent_changed(platform: Platform, first: Reply) -> None:
    """R-IDEM-01 on a change in a later node's last row: ``first`` (a settlement, answered) sent again under
    its msgid with 0.01 moved from the in-policy to the fully self-paid amount of its last fee category
    (still adding up) is refused (E6001); the original sent again still gets its first answer."""
    content = dict(first.request["input"])
    rows = [dict(r) for r in content["feecate"]]
    last = rows[-1]
    last["inscp_scp_amt"] = round(float(last["inscp_scp_amt"]) - 0.01, 2)
    last["fulamt_ownpay_amt"] = round(float(last["fulamt_ownpay_amt"]) + 0.01, 2)
    other = {**first.request, "input": {**content, "feecate": [*rows[:-1], last]}}
    reply = platform.send(other)
    if reply.ok and reply.output == first.output:
        fail(
            f"同一报文ID{first.msgid}、末行费用类别feecate不同的报文被当作重发，返回了首次应答："
            "报文ID的比对应覆盖全部输入节点与每一行",
            rule="R-IDEM-01",
            on=reply,
            expected={"infcode": "-2", "err_msg": "[E6001]…"},
            actual={"infcode": reply.infcode, "output": "与首次应答相同"},
        )
    refused(lambda: reply, "E6001", "R-IDEM-01")
    again = platform.send(first.request)
    if not again.ok or again.output != first.output:
        fail(
            "被拒的异内容报文之后，原报文重发应仍返回首次应答",
            rule="R-IDEM-01",
            on=again,
            expected=first.output,
            actual=again.body,
        )
