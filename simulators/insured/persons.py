"""Who a person is and where they are filed: person information (Y1101, asked by a treatment side) and
the filings (备案) the agency makes, changes, revokes and queries (Y2501–Y2504)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ...specs.money import wire
from ...world import identity
from ...world.topology import Person
from ..gateway import BusinessError, Context
from .records import Insured


class Persons:
    """The Y1101 and Y2501–Y2504 handlers of one insured province."""

    def __init__(self, node: Insured) -> None:
        self.node = node
        self.handlers = {
            "Y1101": self.person_info,
            "Y2501": self.file,
            "Y2502": self.change_filing,
            "Y2503": self.revoke_filing,
            "Y2504": self.query_filings,
        }

    # ── Y1101 ──────────────────────────────────────────────────────

    async def person_info(self, ctx: Context) -> None:
        node = self.node
        data = ctx.input["data"]
        person = node.by_credential(data)
        with ctx.answer() as conn:
            _, doc = node.state(conn, person.psn_no)
            node.check_card(person, data, doc)
            ctx.output = self.person_output(person, doc, ctx.now)

    def person_output(self, p: Person, doc: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        return {
            "baseinfo": {
                "psn_no": p.psn_no,
                "psn_cert_type": "01",
                "certno": p.certno,
                "psn_name": p.name,
                "gend": p.gend,
                "naty": p.naty,
                "brdy": p.brdy.isoformat(),
                "age": float(p.age(now.date())),
            },
            "insuinfo": [
                {
                    "balc": wire(doc["balance"]),
                    "insutype": p.insutype,
                    "psn_type": p.psn_type,
                    "psn_insu_stas": doc["insu_stas"],
                    "psn_insu_date": None,
                    "paus_insu_date": p.paus_insu_date.isoformat() if p.paus_insu_date else None,
                    "cvlserv_flag": p.cvlserv_flag,
                    "insuplc_admdvs": p.insuplc_admdvs,
                    "emp_name": p.emp_name,
                }
            ],
            "filinginfo": [
                {
                    "trt_dcla_detl_sn": f["sn"],
                    "psn_no": p.psn_no,
                    "fil_type": f["fil_type"],
                    "insutype": p.insutype,
                    "mdtrtarea_admdvs": f["mdtrtarea"],
                    "begndate": f["begndate"],
                    "enddate": f["enddate"],
                    "fil_stas": f["status"],
                }
                for f in ([] if self.node.faults.mutant("person-info-without-filings") else doc["filings"])
            ],
            "cardinfo": {"cardno": p.card.cardno, "card_sn": p.card.card_sn, "card_stas": doc["card_status"]},
        }

    # ── filing (备案): Y2501–Y2504 ─────────────────────────────────

    async def file(self, ctx: Context) -> None:
        node = self.node
        info = ctx.input["fileinfo"]
        person = node.person(info["psn_no"])
        sn = identity.filing_sn(node.admdvs, ctx.msgid, node.filing_sn())
        with ctx.answer() as conn:
            version, doc = node.state(conn, person.psn_no)
            if doc["insu_stas"] != "1":
                raise BusinessError("E3006", psn_no=person.psn_no)
            if any(f["status"] == "1" and f["mdtrtarea"] == info["mdtrtarea_admdvs"] for f in doc["filings"]):
                raise BusinessError("E3008", psn_no=person.psn_no)
            doc["filings"].append(
                {
                    "sn": sn,
                    "fil_type": info["fil_type"],
                    "mdtrtarea": info["mdtrtarea_admdvs"],
                    "begndate": info["begndate"],
                    "enddate": info.get("enddate") or None,
                    "status": "1",
                }
            )
            node.save(conn, person.psn_no, version, doc)
            ctx.output = {"result": {"trt_dcla_detl_sn": sn}}

    def _filing(self, doc: Mapping[str, Any], sn: str) -> dict[str, Any]:
        filing: dict[str, Any] | None = next(
            (f for f in doc["filings"] if f["sn"] == sn and f["status"] == "1"), None
        )
        if filing is None:
            raise BusinessError("E3009", trt_dcla_detl_sn=sn)
        return filing

    async def change_filing(self, ctx: Context) -> None:
        node = self.node
        data = ctx.input["data"]
        person = node.person(data["psn_no"])
        sn = identity.filing_sn(node.admdvs, ctx.msgid, node.filing_sn())
        with ctx.answer() as conn:
            version, doc = node.state(conn, person.psn_no)
            old = self._filing(doc, data["trt_dcla_detl_sn"])
            old["status"] = "2"
            doc["filings"].append(
                {
                    **old,
                    "sn": sn,
                    "status": "1",
                    **{
                        k: data[v]
                        for k, v in (
                            ("mdtrtarea", "mdtrtarea_admdvs"),
                            ("begndate", "begndate"),
                            ("enddate", "enddate"),
                        )
                        if data.get(v)
                    },
                }
            )
            node.save(conn, person.psn_no, version, doc)
            ctx.output = {"result": {"trt_dcla_detl_sn": sn}}

    async def revoke_filing(self, ctx: Context) -> None:
        node = self.node
        data = ctx.input["data"]
        person = node.person(data["psn_no"])
        with ctx.answer() as conn:
            version, doc = node.state(conn, person.psn_no)
            self._filing(doc, data["trt_dcla_detl_sn"])["status"] = "3"
            node.save(conn, person.psn_no, version, doc)

    async def query_filings(self, ctx: Context) -> None:
        data = ctx.input["data"]
        person = self.node.person(data["psn_no"])
        with ctx.answer() as conn:
            _, doc = self.node.state(conn, person.psn_no)
            area = data.get("mdtrtarea_admdvs")
            ctx.output = {
                "filinginfo": [
                    f
                    for f in self.person_output(person, doc, ctx.now)["filinginfo"]
                    if not area or f["mdtrtarea_admdvs"] == area
                ]
            }
