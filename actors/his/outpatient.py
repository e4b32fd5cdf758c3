"""An outpatient visit as a HIS runs it (most cross-province volume today): 1101 → 2201 → 2203 → 2204 →
2206 → 2207."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...specs.envelope import datetime_text
from .client import HisClient
from .model import Episode, Reply, credential


class Outpatient(HisClient):
    def register(self, episode: Episode, *, cert: tuple[str, str] | None = None) -> Reply:
        """2201 门诊挂号."""
        cert_type, cert_no = cert or ("02", str(episode.person["baseinfo"]["certno"]))
        self.seq += 1
        data = self.node(
            "2201",
            "data",
            psn_no=episode.psn_no,
            insutype=episode.insutype,
            begntime=datetime_text(self.now()),
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
        now = datetime_text(self.now())
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
