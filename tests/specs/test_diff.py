from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from yidi.specs import loader
from yidi.specs.diff import KINDS, diff
from yidi.specs.model import Spec

_SEEN: set[str] = set()


def _inpatient_without(infno: str) -> list[dict[str, Any]]:
    raw = yaml.safe_load((loader.data_dir() / "lifecycle.yaml").read_text(encoding="utf-8"))
    return [t for t in raw["machines"]["inpatient"]["transitions"] if t["infno"] != infno]


def _with_inpatient(extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [*_inpatient_without("__none__"), extra]


def _fields(infno: str, direction: str, node: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"transactions": {infno: {direction: {node: {"fields": fields}}}}}


# (overlay, expected kind, where it is reported)
CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"transactions": {"3262": None}}, "transaction-removed", "3262"),
    ({"transactions": {"2207A": {"copy": "2207", "infno": "2207A"}}}, "transaction-added", "2207A"),
    ({"transactions": {"5203": {"route": ["his", "hub"]}}}, "route-changed", "5203"),
    (
        {"transactions": {"2304": {"service_path": "/fsi/api/hospSettService/sett"}}},
        "service-path-changed",
        "2304",
    ),
    ({"transactions": {"2402": {"reversible": True}}}, "reversibility-changed", "2402"),
    ({"transactions": {"2403": {"input": {"diseinfo[]": None}}}}, "node-removed", "2403.input.diseinfo[]"),
    (
        {"transactions": {"2404": {"input": {"extra": {"fields": {"memo": "R"}}}}}},
        "node-added-required",
        "2404.input.extra",
    ),
    (
        {"transactions": {"2404": {"input": {"extra": {"optional": True, "fields": {"memo": "O"}}}}}},
        "node-added-optional",
        "2404.input.extra",
    ),
    (
        {"transactions": {"2305": {"rename": {"input": {"data": "mdtrtinfo"}}}}},
        "node-renamed",
        "2305.input.data",
    ),
    (
        {"transactions": {"2601": {"input": {"data": {"flat": True}}}}},
        "node-shape-changed",
        "2601.input.data",
    ),
    (
        {"transactions": {"2401": {"input": {"agnterinfo": {"optional": False}}}}},
        "node-became-required",
        "2401.input.agnterinfo",
    ),
    (
        {"transactions": {"2403": {"input": {"diseinfo[]": {"optional": False}}}}},
        "node-became-required",
        "2403.input.diseinfo[]",
    ),
    (
        {"transactions": {"1101": {"output": {"insuinfo[]": {"optional": True}}}}},
        "node-became-optional",
        "1101.output.insuinfo[]",
    ),
    (_fields("2302", "input", "data", {"exp_content": None}), "field-removed", "2302.input.data.exp_content"),
    (_fields("2302", "input", "data", {"memo": "R"}), "field-added-required", "2302.input.data.memo"),
    (_fields("2302", "input", "data", {"memo": "O"}), "field-added-optional", "2302.input.data.memo"),
    (_fields("2304", "input", "data", {"invono": "R"}), "field-became-required", "2304.input.data.invono"),
    (
        _fields("2304", "input", "data", {"psn_setlway": "O"}),
        "field-became-optional",
        "2304.input.data.psn_setlway",
    ),
    (
        _fields("2304", "input", "data", {"invono": {"required_when": {"psn_setlway": "02"}}}),
        "condition-added",
        "2304.input.data.invono",
    ),
    (
        _fields("1101", "input", "data", {"card_sn": {"required_when": {"mdtrt_cert_type": "01"}}}),
        "condition-changed",
        "1101.input.data.card_sn",
    ),
    (_fields("1101", "input", "data", {"card_sn": "O"}), "condition-removed", "1101.input.data.card_sn"),
    (
        _fields("2304", "input", "data", {"invono": {"form": "num(20)"}}),
        "type-changed",
        "2304.input.data.invono",
    ),
    (
        _fields("2304", "input", "data", {"invono": {"form": "char(10)"}}),
        "length-narrowed",
        "2304.input.data.invono",
    ),
    (
        _fields("2304", "input", "data", {"invono": {"form": "char(40)"}}),
        "length-widened",
        "2304.input.data.invono",
    ),
    (
        _fields("2304", "input", "data", {"medfee_sumamt": {"required": True, "form": "num(16,1)"}}),
        "length-narrowed",
        "2304.input.data.medfee_sumamt",
    ),
    (
        _fields("2304", "input", "data", {"invono": {"format": "admdvs"}}),
        "format-changed",
        "2304.input.data.invono",
    ),
    (
        _fields("2304", "input", "data", {"psn_setlway": {"required": True, "code": "clr_type"}}),
        "code-table-changed",
        "2304.input.data.psn_setlway",
    ),
    ({"codes": {"psn_setlway": {"values": {"02": None}}}}, "code-value-removed", "codes.psn_setlway.02"),
    ({"codes": {"psn_setlway": {"values": {"03": "按病种"}}}}, "code-value-added", "codes.psn_setlway.03"),
    (
        {"codes": {"psn_setlway": {"values": {"02": "包干结算"}}}},
        "code-value-renamed",
        "codes.psn_setlway.02",
    ),
    ({"codes": {"naty": {"closed": True}}}, "code-table-closed", "codes.naty"),
    ({"codes": {"gend": {"closed": False}}}, "code-table-opened", "codes.gend"),
    ({"codes": {"med_type": {"local": "^98[0-9]{2}$"}}}, "code-local-changed", "codes.med_type"),
    (
        {"semantics": {"fund_pay_sumamt_includes_acct_pay": True}},
        "semantics-changed",
        "semantics.fund_pay_sumamt_includes_acct_pay",
    ),
    (
        {
            "rules": {
                "R-NEW-01": {
                    "kind": "message",
                    "zh": "新规则",
                    "en": "new",
                    "targets": ["2304.input.data"],
                    "check": "medfee_sumamt >= 0",
                }
            }
        },
        "rule-added",
        "R-NEW-01",
    ),
    (
        {"rules": {"R-AMT-05": {"check": "abs(det_item_fee_sumamt - cnt * pric) < 1"}}},
        "rule-changed",
        "R-AMT-05",
    ),
    ({"rules": {"R-AMT-05": {"kind": "behaviour"}}}, "rule-removed", "R-AMT-05"),
    (
        {"lifecycle": {"machines": {"inpatient": {"transitions": _inpatient_without("2403")}}}},
        "lifecycle-transition-removed",
        "lifecycle.inpatient.2403",
    ),
    (
        {
            "lifecycle": {
                "machines": {
                    "inpatient": {
                        "transitions": _with_inpatient(
                            {"infno": "2403", "from": ["discharged"], "to": "$same"}
                        )
                    }
                }
            }
        },
        "lifecycle-transition-added",
        "lifecycle.inpatient.2403",
    ),
]


def _overlaid(tmp_path: Path, patch: dict[str, Any]) -> Spec:
    path = tmp_path / "change.yaml"
    path.write_text(yaml.safe_dump({"profile": "change", **patch}, allow_unicode=True), encoding="utf-8")
    return loader.load(profile=str(path))


@pytest.mark.parametrize(("patch", "kind", "where"), CASES, ids=[f"{k}:{w}" for _, k, w in CASES])
def test_each_kind_of_change_is_found_and_classified(
    tmp_path: Path, patch: dict[str, Any], kind: str, where: str
) -> None:
    result = diff(loader.load(), _overlaid(tmp_path, patch))
    found = {(c.kind, c.where): c for c in result.changes}
    assert (kind, where) in found, [(c.kind, c.where) for c in result.changes]
    change = found[(kind, where)]
    assert change.breaking == KINDS[kind][0]
    assert bool(result.breaking) == any(c.breaking for c in result.changes)
    assert change.affects, "every change names the transactions it touches"
    _SEEN.add(kind)


def test_every_kind_of_change_the_diff_knows_is_exercised() -> None:
    assert {kind for _, kind, _ in CASES} == set(KINDS)


def test_the_shipped_versions_differ_as_the_draft_says() -> None:
    result = diff(loader.load("V1.0"), loader.load("V1.1"))
    found = {(c.kind, c.where) for c in result.changes}
    assert {
        ("condition-added", "2401.input.mdtrtinfo.card_sn"),
        ("length-widened", "2601.input.data.oinfno"),
        ("field-removed", "2208.output.setlinfo.pdn_cash_pay"),
        ("transaction-added", "2203A"),
        ("code-value-removed", "codes.clr_type.51"),
        ("field-added-optional", "2304.output.setlinfo.hifdm_pay"),
    } <= found
    assert {"2401", "2208", "2601", "2203A"} <= result.affected


def test_a_spec_does_not_differ_from_itself() -> None:
    assert diff(loader.load("V1.1"), loader.load("V1.1")).changes == []


def test_code_changes_affect_the_transactions_that_use_the_table(tmp_path: Path) -> None:
    result = diff(loader.load(), _overlaid(tmp_path, {"codes": {"psn_setlway": {"values": {"02": None}}}}))
    (change,) = result.changes
    assert set(change.affects) == {"2206", "2207", "2303", "2304", "Y2303", "Y2304"}
