"""A hospital HIS client: signs and sends every transaction as real HIS clients do, and performs whole
episodes (9001 → 1101 → 2401 → 2301 in batches → 2402 → 2303 → 2304; 2601 when an answer is lost).

Each message starts from the spec's own example of its nodes (so its shape comes from the spec) with
the episode's real values set on top. Synchronous (httpx), so suites, the CLI and Locust share it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from ..specs import envelope, examples, loader, transport
from ..specs.adapt import Adapter
from ..specs.envelope import datetime_text
from ..specs.model import Spec
from ..specs.money import wire
from ..world.clock import real_now

REVERSAL_FOR = {"2304": "2304", "2207": "2207", "2305": "2305", "2208": "2208", "2401": "2401"}


@functools.cache
def msgids(fixmedins_code: str) -> envelope.MsgIds:
    """One msgid sequence per institution in this process: two HIS objects of one hospital never collide."""
    return envelope.MsgIds(fixmedins_code)


class LostAnswer(Exception):
    """No answer came back (timeout, connection lost, or a non-200 from the gateway)."""

    def __init__(self, infno: str, msgid: str, why: str) -> None:
        super().__init__(f"{infno} {msgid}: {why}")
        self.infno, self.msgid = infno, msgid


class Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(f"{reply.infno} refused: infcode {reply.infcode} {reply.err_msg}")
        self.reply = reply


@dataclass
class Reply:
    infno: str
    msgid: str
    request: dict[str, Any]  # as sent
    body: dict[str, Any]  # as read: in the base spec's shapes and meanings
    seconds: float
    received: dict[str, Any] | None = None  # as the platform sent it, when its profile differs from the base
    file: bytes | None = None  # a file the platform answered as itself (9102), the envelope then made up

    @property
    def infcode(self) -> int:
        return int(self.body.get("infcode", -1))

    @property
    def ok(self) -> bool:
        return self.infcode == 0

    @property
    def output(self) -> Any:
        return self.body.get("output")

    @property
    def err_msg(self) -> str:
        return str(self.body.get("err_msg") or "")

    @property
    def warn_msg(self) -> str:
        return str(self.body.get("warn_msg") or "")


@dataclass(frozen=True)
class Hospital:
    """What a HIS knows about itself: the roster's hospital entry."""

    fixmedins_code: str
    name: str
    admdvs: str
    gateway: str
    paasid: str
    secret: str

    @classmethod
    def from_roster(cls, entry: Mapping[str, Any]) -> Hospital:
        return cls(
            entry["fixmedins_code"],
            entry["name"],
            entry["admdvs"],
            entry["gateway"],
            entry["paasid"],
            entry["secret"],
        )


class Insured:
    """A visit's person as the person-info answer (1101, Y1101) gave them."""

    person: dict[str, Any]

    @property
    def psn_no(self) -> str:
        return str(self.person["baseinfo"]["psn_no"])

    @property
    def insutype(self) -> str:
        return str(self.person["insuinfo"][0]["insutype"])


@dataclass
class Episode(Insured):
    """One visit as the HIS sees it."""

    person: dict[str, Any]  # 1101 output
    insuplc_admdvs: str
    mdtrt_id: str = ""
    fees: list[dict[str, Any]] = field(default_factory=list)  # 2301 result rows
    presettlement: dict[str, Any] | None = None
    settlement: dict[str, Any] | None = None
    settle_msgid: str = ""
    replies: list[Reply] = field(default_factory=list)

    def totals(self) -> dict[str, float]:
        def d(key: str) -> Decimal:
            return sum((Decimal(str(r[key] or 0)) for r in self.fees), Decimal(0))

        return {
            "medfee_sumamt": float(d("det_item_fee_sumamt")),
            "fulamt_ownpay_amt": float(d("fulamt_ownpay_amt")),
            "overlmt_selfpay": float(d("overlmt_amt")),
            "preselfpay_amt": float(d("preselfpay_amt")),
            "inscp_scp_amt": float(d("inscp_scp_amt")),
        }


class His:
    def __init__(
        self,
        spec: Spec,
        hospital: Hospital,
        *,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        opter: str = "0001",
        opter_name: str = "收费员甲",
        mutants: Collection[str] = (),
    ) -> None:
        # the HIS builds messages in the base spec's shapes and speaks ``spec`` (a regional profile)
        self.wire, self.spec, self.hospital = spec, loader.load(version=spec.version), hospital
        self.adapter = Adapter(self.spec, self.wire)
        self.client = client or httpx.Client(timeout=timeout)
        self.msgids = msgids(hospital.fixmedins_code)
        self.opter, self.opter_name = opter, opter_name
        self.sign_no = ""
        self.seq = 0
        # his-role mutants (simulators/faults.py): this HIS deliberately wrong, for the his-role suites
        self.mutants = frozenset(mutants)

    def mutant(self, name: str) -> bool:
        return name in self.mutants

    # ── one transaction ────────────────────────────────────────────

    def message(
        self, infno: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "", msgid: str | None = None
    ) -> dict[str, Any]:
        now = real_now()
        if msgid is None and self.mutant("his-msgid-format"):  # the platform's inf_refmsgid form, not ours
            msgid = f"{self.hospital.admdvs}{self.msgids(now)[12:26]}{self.msgids(now)[26:]:0>10}"
        return envelope.request(
            self.wire,
            infno,
            self.adapter.to_wire(infno, "input", dict(input)),
            msgid=msgid or self.msgids(now),
            when=now,
            mdtrtarea_admvs=self.hospital.admdvs,
            insuplc_admdvs=insuplc_admdvs,
            recer_sys_code="LXXT" if _insutype(input) == "340" else "YBXT",
            infver=self.spec.version,
            opter_type="1",
            opter=self.opter,
            opter_name=self.opter_name,
            fixmedins_code=self.hospital.fixmedins_code,
            fixmedins_name=self.hospital.name,
            sign_no=self.sign_no,
        )

    def send(self, message: Mapping[str, Any], *, headers: Mapping[str, str] | None = None) -> Reply:
        infno, msgid = str(message["infno"]), str(message["msgid"])
        signed = (
            headers
            if headers is not None
            else transport.sign_headers(
                self.spec, self.hospital.paasid, self.hospital.secret, now=time.time()
            )
        )
        if headers is None and self.mutant("his-wrong-signature"):  # signed without the trailing timestamp
            signed = _short_signature(self.spec, signed, self.hospital.secret)
        started = time.perf_counter()
        try:
            r = self.client.post(f"{self.hospital.gateway}/{infno}", json=message, headers=dict(signed))
        except httpx.HTTPError as e:
            raise LostAnswer(infno, msgid, repr(e)) from e
        if r.status_code != 200:
            raise LostAnswer(infno, msgid, f"HTTP {r.status_code}")
        if r.headers.get("content-type", "").startswith("application/octet-stream"):  # 9102: the file itself
            seconds = time.perf_counter() - started
            return Reply(infno, msgid, dict(message), {"infcode": 0, "output": {}}, seconds, file=r.content)
        received = body = r.json()
        if isinstance(body.get("output"), dict):  # read answers in the base spec's shapes
            body = {**body, "output": self.adapter.to_base(infno, "output", body["output"])}
        seconds = time.perf_counter() - started
        return Reply(infno, msgid, dict(message), body, seconds, received if body is not received else None)

    def call(
        self,
        infno: str,
        input: Mapping[str, Any],
        *,
        insuplc_admdvs: str = "",
        check: bool = True,
        msgid: str | None = None,
    ) -> Reply:
        reply = self.send(self.message(infno, input, insuplc_admdvs=insuplc_admdvs, msgid=msgid))
        if check and not reply.ok:
            raise Refused(reply)
        return reply

    def node(self, infno: str, name: str, **values: Any) -> dict[str, Any]:
        """The spec's example of one input node, with these values set."""
        n = self.spec.transaction(infno).input[name]
        return {**examples.node(self.spec, n), **values}

    def visit_no(self, prefix: str) -> str:
        """The hospital's own visit number (住院号 ZY…, 门诊号 MZ…): unique per hospital."""
        return f"{prefix}{self.hospital.fixmedins_code[-5:]}{int(time.time() * 1000) % 10**8:08d}{self.seq}"

    # ── steps of an episode ────────────────────────────────────────

    def sign_in(self) -> str:
        reply = self.call("9001", {"signIn": self.node("9001", "signIn", opter_no=self.opter)})
        self.sign_no = reply.output["signinoutb"]["sign_no"]
        return self.sign_no

    def person_info(self, card: Mapping[str, Any], cert_type: str = "03") -> Reply:
        """1101 with what the card reader gave (see /cards/{key})."""
        data: dict[str, Any] = dict(
            zip(("mdtrt_cert_type", "mdtrt_cert_no"), credential(card, cert_type), strict=True)
        )
        if cert_type == "03" and not self.mutant("his-omits-card-sn"):  # the mutant drops the card's card_sn
            data["card_sn"] = card.get("card_sn")
        return self.call("1101", {"data": data})

    def admit(
        self,
        episode: Episode,
        *,
        med_type: str = "21",
        cert: tuple[str, str] | None = None,
        begntime: datetime | None = None,
        card_sn: str | None = None,
    ) -> Reply:
        begin = datetime_text(begntime or real_now())
        cert_type, cert_no = cert or ("02", str(episode.person["baseinfo"]["certno"]))
        self.seq += 1
        info = self.node(
            "2401",
            "mdtrtinfo",
            psn_no=episode.psn_no,
            insutype=episode.insutype,
            begntime=begin,
            mdtrt_cert_type=cert_type,
            mdtrt_cert_no=cert_no,
            med_type=med_type,
            ipt_no=self.visit_no("ZY"),
        )
        if card_sn and "card_sn" in self.spec.transaction("2401").input["mdtrtinfo"].fields:
            info["card_sn"] = card_sn
        diagnosis = self.node("2401", "diseinfo", psn_no=episode.psn_no, diag_time=begin)
        reply = self.call(
            "2401", {"mdtrtinfo": info, "diseinfo": [diagnosis]}, insuplc_admdvs=episode.insuplc_admdvs
        )
        episode.mdtrt_id = reply.output["result"]["mdtrt_id"]
        episode.replies.append(reply)
        return reply

    def fee_lines(
        self,
        infno: str,
        episode: Episode,
        items: Iterable[tuple[str, float, float]],
        *,
        sn_prefix: str,
        first: int = 0,
        **values: Any,
    ) -> list[dict[str, Any]]:
        """feedetail rows of 2301 / 2204, one per item (national code, quantity, unit price); the fee is
        quantity × price to the cent."""
        lines: list[dict[str, Any]] = []
        for code, cnt, pric in items:
            self.seq += 1
            lines.append(
                self.node(
                    infno,
                    "feedetail",
                    feedetl_sn=f"{sn_prefix}{self.seq:010d}{first + len(lines):04d}",
                    mdtrt_id=episode.mdtrt_id,
                    psn_no=episode.psn_no,
                    med_list_codg=code,
                    medins_list_codg=f"HOSP-{code}",
                    cnt=cnt,
                    pric=pric,
                    det_item_fee_sumamt=wire(Decimal(str(cnt)) * Decimal(str(pric))),
                    **values,
                )
            )
        return lines

    def upload_fees(
        self,
        episode: Episode,
        items: Iterable[tuple[str, float, float]],
        *,
        batch: int = 50,
        when: datetime | None = None,
    ) -> list[Reply]:
        """2301 in batches of ``batch`` lines; items are (national code, quantity, unit price)."""
        lines = self.fee_lines(
            "2301",
            episode,
            items,
            sn_prefix="F",
            first=len(episode.fees),
            med_type="21",
            fee_ocur_time=datetime_text(when or real_now()),
        )
        if self.mutant("his-feedetl-sn-per-batch"):  # numbered from 1 in every batch: batches collide
            lines = [{**line, "feedetl_sn": f"F{i % batch + 1:014d}"} for i, line in enumerate(lines)]
        replies = []
        for start in range(0, len(lines), batch):
            reply = self.call(
                "2301", {"feedetail": lines[start : start + batch]}, insuplc_admdvs=episode.insuplc_admdvs
            )
            episode.fees += reply.output["result"]
            episode.replies.append(reply)
            replies.append(reply)
        return replies

    def discharge(self, episode: Episode, *, endtime: datetime | None = None) -> Reply:
        end = datetime_text(endtime or real_now())
        info = self.node(
            "2402",
            "dscginfo",
            mdtrt_id=episode.mdtrt_id,
            psn_no=episode.psn_no,
            insutype=episode.insutype,
            endtime=end,
            dscg_way="1",
        )
        diagnosis = self.node(
            "2402", "diseinfo", psn_no=episode.psn_no, diag_time=end, mdtrt_id=episode.mdtrt_id
        )
        reply = self.call(
            "2402", {"dscginfo": info, "diseinfo": [diagnosis]}, insuplc_admdvs=episode.insuplc_admdvs
        )
        episode.replies.append(reply)
        return reply

    def settlement_data(
        self, episode: Episode, infno: str, *, use_account: bool, mid: bool
    ) -> dict[str, Any]:
        totals = episode.totals()
        if self.mutant("his-total-last-batch"):  # the totals of the last 2301 batch only
            last = next(r for r in reversed(episode.replies) if r.infno == "2301").output["result"]
            totals = Episode(episode.person, episode.insuplc_admdvs, fees=last).totals()
        return self.node(
            infno,
            "data",
            psn_no=episode.psn_no,
            mdtrt_cert_type="02",
            mdtrt_cert_no=episode.person["baseinfo"]["certno"],
            psn_setlway="01",
            mdtrt_id=episode.mdtrt_id,
            insutype=episode.insutype,
            acct_used_flag="1" if use_account else "0",
            mid_setl_flag="1" if mid else "0",
            **totals,
        )

    def presettle(self, episode: Episode, *, use_account: bool = True, mid: bool = False) -> Reply:
        reply = self.call(
            "2303",
            {"data": self.settlement_data(episode, "2303", use_account=use_account, mid=mid)},
            insuplc_admdvs=episode.insuplc_admdvs,
        )
        episode.presettlement = reply.output
        episode.replies.append(reply)
        return reply

    def settle(
        self, episode: Episode, *, use_account: bool = True, mid: bool = False, reverse_lost: bool = True
    ) -> Reply:
        """2304; when its answer is lost, reverse it (2601 by msgid) and settle again, as HIS clients do."""
        data = {"data": self.settlement_data(episode, "2304", use_account=use_account, mid=mid)}
        message = self.message("2304", data, insuplc_admdvs=episode.insuplc_admdvs)
        try:
            reply = self.send(message)
        except LostAnswer:
            if not reverse_lost or self.mutant("his-no-reversal"):  # the mutant gives up: nothing reversed
                raise
            if self.mutant("his-new-msgid-on-retry"):  # settles again under a new msgid, nothing reversed
                return self.settle(episode, use_account=use_account, mid=mid, reverse_lost=False)
            self.reverse(episode, str(message["msgid"]), "2304", tolerate_nothing=True)
            return self.settle(episode, use_account=use_account, mid=mid, reverse_lost=False)
        if not reply.ok:
            raise Refused(reply)
        episode.settlement, episode.settle_msgid = reply.output, reply.msgid
        episode.replies.append(reply)
        return reply

    def reverse(self, episode: Episode, omsgid: str, oinfno: str, *, tolerate_nothing: bool = False) -> Reply:
        reply = self.call(
            "2601",
            {"data": {"psn_no": episode.psn_no, "omsgid": omsgid, "oinfno": oinfno}},
            insuplc_admdvs=episode.insuplc_admdvs,
            check=False,
        )
        if not reply.ok and not (tolerate_nothing and "E6002" in reply.err_msg):
            raise Refused(reply)
        episode.replies.append(reply)
        return reply

    def cancel_settlement(self, episode: Episode) -> Reply:
        assert episode.settlement is not None
        reply = self.call(
            "2305",
            {
                "data": {
                    "mdtrt_id": episode.mdtrt_id,
                    "setl_id": episode.settlement["setlinfo"][
                        "medins_setl_id" if self.mutant("his-cancel-by-medins-setl-id") else "setl_id"
                    ],
                    "psn_no": episode.psn_no,
                }
            },
            insuplc_admdvs=episode.insuplc_admdvs,
        )
        episode.replies.append(reply)
        return reply

    def simple(self, episode: Episode, infno: str, **extra: Any) -> Reply:
        """A transaction whose input is just the visit: 2302 (feedetl_sn), 2404, 2405."""
        data = {"mdtrt_id": episode.mdtrt_id, "psn_no": episode.psn_no, **extra}
        reply = self.call(infno, {"data": data}, insuplc_admdvs=episode.insuplc_admdvs)
        episode.replies.append(reply)
        return reply

    # ── monthly clearing of remote patients (异地清分) ───────────────────

    def clearing_rows(self, month: str) -> list[dict[str, Any]]:
        """3260, page after page (at most 100 rows each): the month's rows the platform has for us."""
        rows: list[dict[str, Any]] = []
        while True:
            data = {"trt_year": month[:4], "trt_month": month[4:], "startrow": len(rows) + 1}
            page = self.call("3260", {"data": data}).output.get("data") or []
            rows += page
            if len(page) < 100:
                return rows

    def confirm_clearing(
        self, month: str, rows: Sequence[Mapping[str, Any]], *, confirm: bool = True
    ) -> Reply:
        """3261: these rows confirmed (or left out of this month's clearing)."""
        keep = ("certno", "mdtrt_id", "mdtrt_setl_time", "setl_sn", "medfee_sumamt", "optins_pay_sumamt")
        detail = [{**{k: r[k] for k in keep}, "cnfm_flag": "1" if confirm else "0"} for r in rows]
        data = {"trt_year": month[:4], "trt_month": month[4:], "totalrow": len(detail)}
        return self.call("3261", {"data": data, "detail": detail})

    def undo_clearing(self, month: str, otransid: str = "0") -> Reply:
        """3262: undo one 3261 (its answer's inf_refmsgid) or, with '0', every confirmation of the month."""
        return self.call(
            "3262", {"data": {"trt_year": month[:4], "trt_month": month[4:], "otransid": otransid}}
        )

    # ── reconciliation (对账) ───────────────────────────────────────

    def reconcile_totals(self, period: tuple[str, str], totals: Mapping[str, Any], **group: Any) -> Reply:
        """3201: our totals for the period (medfee_sumamt, fund_pay_sumamt, acct_pay, fixmedins_setl_cnt) for
        one insutype, clr_type and setl_optins (``group``; REFD_SETL_FLAG too)."""
        data = {"stmt_begndate": period[0], "stmt_enddate": period[1], **totals, **group}
        return self.call("3201", {"data": data})

    def upload_file(self, filename: str, content: bytes) -> str:
        """9101: a file (a ZIP), base64 as OH sends it; its file_qury_no."""
        up = {
            "in": base64.b64encode(content).decode(),
            "filename": filename,
            "fixmedins_code": self.hospital.fixmedins_code,
        }
        return str(self.call("9101", {"fsUploadIn": up}).output["file_qury_no"])

    def reconcile_detail(
        self, period: tuple[str, str], file_qury_no: str, totals: Mapping[str, Any], **group: Any
    ) -> Reply:
        """3202 with the uploaded detail file; the answer names the result file to download."""
        data = {
            "stmt_begndate": period[0],
            "stmt_enddate": period[1],
            "file_qury_no": file_qury_no,
            **totals,
            **group,
        }
        return self.call("3202", {"data": data})

    def download_file(self, file_qury_no: str, filename: str) -> bytes:
        """9102: the file itself."""
        down = {
            "file_qury_no": file_qury_no,
            "filename": filename,
            "fixmedins_code": self.hospital.fixmedins_code,
        }
        reply = self.call("9102", {"fsDownloadIn": down})
        if reply.file is None:
            raise Refused(reply)
        return reply.file

    # ── outpatient ─────────────────────────────────────────────────

    def register(self, episode: Episode, *, cert: tuple[str, str] | None = None) -> Reply:
        """2201 门诊挂号."""
        cert_type, cert_no = cert or ("02", str(episode.person["baseinfo"]["certno"]))
        self.seq += 1
        data = self.node(
            "2201",
            "data",
            psn_no=episode.psn_no,
            insutype=episode.insutype,
            begntime=datetime_text(real_now()),
            mdtrt_cert_type=cert_type,
            mdtrt_cert_no=cert_no,
            ipt_otp_no=self.visit_no("MZ"),
        )
        reply = self.call("2201", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs)
        episode.mdtrt_id = reply.output["data"]["mdtrt_id"]
        episode.replies.append(reply)
        return reply

    def outpatient_fees(
        self,
        episode: Episode,
        items: Iterable[tuple[str, float, float]],
        batch_no: str,
        *,
        med_type: str = "11",
    ) -> Reply:
        """2203 (the visit's diagnosis) and 2204 (the fees of one charge batch)."""
        now = datetime_text(real_now())
        info = self.node(
            "2203",
            "mdtrtinfo",
            mdtrt_id=episode.mdtrt_id,
            psn_no=episode.psn_no,
            med_type=med_type,
            begntime=now,
        )
        episode.replies.append(
            self.call(
                "2203",
                {"mdtrtinfo": info, "diseinfo": [self.node("2203", "diseinfo", diag_time=now)]},
                insuplc_admdvs=episode.insuplc_admdvs,
            )
        )
        lines = self.fee_lines("2204", episode, items, sn_prefix="M", chrg_bchno=batch_no, fee_ocur_time=now)
        reply = self.call("2204", {"feedetail": lines}, insuplc_admdvs=episode.insuplc_admdvs)
        episode.fees += reply.output["result"]
        episode.replies.append(reply)
        return reply

    def outpatient_settle(
        self,
        episode: Episode,
        batch_no: str,
        *,
        infno: str = "2207",
        med_type: str = "11",
        use_account: bool = True,
    ) -> Reply:
        """2206 (pre-settlement) or 2207 (settlement) of one charge batch."""
        totals = episode.totals()
        data = self.node(
            infno,
            "data",
            psn_no=episode.psn_no,
            mdtrt_cert_type="02",
            mdtrt_cert_no=episode.person["baseinfo"]["certno"],
            med_type=med_type,
            medfee_sumamt=totals["medfee_sumamt"],
            psn_setlway="01",
            mdtrt_id=episode.mdtrt_id,
            chrg_bchno=batch_no,
            insutype=episode.insutype,
            acct_used_flag="1" if use_account else "0",
        )
        if infno == "2207":
            data.update({k: v for k, v in totals.items() if k != "medfee_sumamt"})
        reply = self.call(infno, {"data": data}, insuplc_admdvs=episode.insuplc_admdvs)
        if infno == "2207":
            episode.settlement, episode.settle_msgid = reply.output, reply.msgid
        episode.replies.append(reply)
        return reply

    def outpatient_visit(
        self, card: Mapping[str, Any], items: Sequence[tuple[str, float, float]], *, cert_type: str = "02"
    ) -> Episode:
        """1101 → 2201 → 2203 → 2204 → 2206 → 2207: most cross-province volume today."""
        if not self.sign_no:
            self.sign_in()
        info = self.person_info(card, cert_type)
        episode = Episode(info.output, str(info.output["insuinfo"][0]["insuplc_admdvs"]), replies=[info])
        self.register(episode, cert=credential(card, cert_type))
        batch_no = f"B{self.seq:012d}"
        self.outpatient_fees(episode, items, batch_no)
        self.outpatient_settle(episode, batch_no, infno="2206")
        self.outpatient_settle(episode, batch_no)
        return episode

    # ── a whole episode ────────────────────────────────────────────

    def inpatient_episode(
        self,
        card: Mapping[str, Any],
        items: Sequence[tuple[str, float, float]],
        *,
        batch: int = 50,
        use_account: bool = True,
        cert_type: str = "03",
    ) -> Episode:
        episode = self.stay(card, items, batch=batch, cert_type=cert_type)
        self.discharge(episode)
        self.presettle(episode, use_account=use_account)
        self.settle(episode, use_account=use_account)
        return episode

    def stay(
        self,
        card: Mapping[str, Any],
        items: Sequence[tuple[str, float, float]],
        *,
        batch: int = 50,
        cert_type: str = "03",
    ) -> Episode:
        """1101 → 2401 → 2301 in batches: a patient read from the card, admitted, and the fees uploaded."""
        if not self.sign_no:
            self.sign_in()
        info = self.person_info(card, cert_type)
        episode = Episode(info.output, str(info.output["insuinfo"][0]["insuplc_admdvs"]), replies=[info])
        if self.mutant("his-fees-before-admission"):  # the fees go before the visit exists
            self.upload_fees(episode, items, batch=batch)
        self.admit(episode, cert=credential(card, cert_type), card_sn=card.get("card_sn"))
        self.upload_fees(episode, items, batch=batch)
        return episode


def _short_signature(spec: Spec, headers: Mapping[str, str], secret: str) -> dict[str, str]:
    """The his-wrong-signature mutant's headers: x-tif-signature = SHA-256(timestamp + secret + nonce)."""
    names = spec.transport["signature"]["headers"]
    text = f"{headers[names['timestamp']]}{secret}{headers[names['nonce']]}"
    return {**headers, names["signature"]: hashlib.sha256(text.encode()).hexdigest()}


def card_read(person: Mapping[str, Any]) -> dict[str, Any]:
    """What reading a roster person's card gives (真人真卡): the fields 1101 and 2401 take."""
    return {
        "cardno": person["card"]["cardno"],
        "card_sn": person["card"]["card_sn"],
        "certno": person["certno"],
        "psn_name": person["name"],
        "admdvs": person["insuplc_admdvs"],
        "ectoken": person["ectoken"],
    }


def credential(card: Mapping[str, Any], cert_type: str) -> tuple[str, str]:
    """(mdtrt_cert_type, mdtrt_cert_no) from a card read: 01 e-voucher token, 02 ID number, 03 card number."""
    return cert_type, str(card[{"01": "ectoken", "02": "certno", "03": "cardno"}[cert_type]])


def _insutype(input: Mapping[str, Any]) -> str | None:
    for node in input.values():
        if isinstance(node, Mapping) and "insutype" in node:
            return str(node["insutype"])
    return None
