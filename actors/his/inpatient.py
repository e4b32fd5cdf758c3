"""An inpatient stay as a HIS runs it: 1101 → 2401 → 2301 in batches → 2402 → 2303 → 2304, and the
settlement reversed (2601) and made again when its answer is lost; 2305 cancels it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ...specs.envelope import datetime_text
from .client import HisClient
from .model import Episode, LostAnswer, Refused, Reply, credential


class Inpatient(HisClient):
    def admit(
        self,
        episode: Episode,
        *,
        med_type: str = "21",
        cert: tuple[str, str] | None = None,
        begntime: datetime | None = None,
        card_sn: str | None = None,
    ) -> Reply:
        begin = datetime_text(begntime or self.now())
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
            fee_ocur_time=datetime_text(when or self.now()),
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
        end = datetime_text(endtime or self.now())
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
