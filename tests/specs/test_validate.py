from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from yidi.specs import examples, loader
from yidi.specs.model import Field, Node, Spec
from yidi.specs.rules import names_read
from yidi.specs.validate import validate

BASE = loader.load()
DIRECTIONS = [("input", False), ("output", True)]


def _message(spec: Spec, infno: str, response: bool) -> dict[str, Any]:
    return (examples.response if response else examples.request)(spec, infno)


# ── every transaction's own examples pass, in every version and profile ──────────────────


def test_examples_of_every_transaction_are_valid(any_spec: Spec) -> None:
    failures = []
    for infno in any_spec.transactions:
        for response in (False, True):
            for full in (True, False):
                build = examples.response if response else examples.request
                report = validate(any_spec, build(any_spec, infno, full=full), infno=infno, response=response)
                if report.issues:
                    failures.append((infno, response, full, [str(i) for i in report.issues]))
    assert failures == []


# ── each field rule, broken, fails with the right code at the right path ──────────────────


def _locations(spec: Spec, infno: str, direction: str) -> Iterator[tuple[Node, Field, list[str | int]]]:
    body = "output" if direction == "output" else "input"
    for node in spec.transaction(infno).nodes(direction).values():
        base = [body] if node.flat else [body, node.name] + ([0] if node.array else [])
        for f in node.fields.values():
            yield node, f, [*base, f.name]


def _set(message: dict[str, Any], path: list[str | int], value: Any) -> None:
    target: Any = message
    for p in path[:-1]:
        target = target[p]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value


def _walk(message: Any, path: list[str | int]) -> Any:
    for p in path:
        message = message[p]
    return message


def _dotted(path: list[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path))


_DELETE = object()
Mutation = Callable[
    [Spec, Field], tuple[Any, str] | None
]  # (new value, expected error code) or not applicable


def _missing(spec: Spec, f: Field) -> tuple[Any, str] | None:
    return (_DELETE, "E1001") if f.required else None


def _null_when_required(spec: Spec, f: Field) -> tuple[Any, str] | None:
    return (None, "E1001") if f.required else None


def _too_long(spec: Spec, f: Field) -> tuple[Any, str] | None:
    if f.form.kind != "char" or f.format or (f.code and spec.codes[f.code].closed):
        return None
    return ("长" * ((f.form.length or 0) + 1), "E1003")


def _wrong_type(spec: Spec, f: Field) -> tuple[Any, str] | None:
    if f.form.kind == "char":
        return (12345, "E1002")
    if f.form.kind == "num" and "string" not in f.wire:
        return ("12", "E1002")
    return None


def _not_a_code(spec: Spec, f: Field) -> tuple[Any, str] | None:
    if not f.code or not spec.codes[f.code].closed:
        return None
    return ("Z" * min(f.form.length or 1, 3), "E1005")


def _malformed(spec: Spec, f: Field) -> tuple[Any, str] | None:
    if f.form.kind == "date":
        return ("2026-02-30x", "E1004")
    if f.form.kind == "datetime":
        return ("2026/11/10 10:30:00", "E1004")
    if f.format:
        return ("?", "E1004")
    return None


def _too_precise(spec: Spec, f: Field) -> tuple[Any, str] | None:
    if f.form.kind != "num":
        return None
    return (1.5 if f.form.scale == 0 else 1 + 10 ** -(f.form.scale + 1) * 3, "E1006")


def _too_big(spec: Spec, f: Field) -> tuple[Any, str] | None:
    if f.form.kind != "num":
        return None
    return (10 ** ((f.form.length or 0) - f.form.scale), "E1006")


MUTATIONS: dict[str, Mutation] = {
    "missing": _missing,
    "null": _null_when_required,
    "too-long": _too_long,
    "wrong-type": _wrong_type,
    "not-a-code": _not_a_code,
    "malformed": _malformed,
    "too-precise": _too_precise,
    "too-big": _too_big,
}


def _cases(
    spec: Spec, infno: str, direction: str, mutate: Mutation
) -> Iterator[tuple[list[str | int], Any, str]]:
    """(path, value, expected code) for every field of the transaction the mutation applies to."""
    example = _message(spec, infno, direction == "output")
    for _node, f, path in _locations(spec, infno, direction):
        change = mutate(spec, f)
        if change is None:
            continue
        if change[0] is _DELETE and path[-1] not in _walk(example, path[:-1]):
            continue  # conditional on a value the example does not have
        yield path, *change


MATRIX = [
    pytest.param(infno, direction, mutation, id=f"{infno}-{direction}-{mutation}")
    for infno in sorted(BASE.transactions)
    for direction, _ in DIRECTIONS
    for mutation, mutate in MUTATIONS.items()
    if any(_cases(BASE, infno, direction, mutate))
]


@pytest.mark.parametrize(("infno", "direction", "mutation"), MATRIX)
def test_a_broken_field_rule_is_reported_at_its_path(infno: str, direction: str, mutation: str) -> None:
    response = direction == "output"
    wrong = []
    for path, value, expected in _cases(BASE, infno, direction, MUTATIONS[mutation]):
        message = _message(BASE, infno, response)
        _set(message, path, value)
        found = {(i.code, i.path) for i in validate(BASE, message, infno=infno, response=response).errors}
        if (expected, _dotted(path)) not in found:
            wrong.append((_dotted(path), value, expected, found))
    assert wrong == []


def test_a_conditional_field_is_required_only_when_its_condition_holds(spec: Spec) -> None:
    message = examples.request(spec, "1101")
    del message["input"]["data"]["card_sn"]
    issues = validate(spec, message).errors
    assert [(i.code, i.path) for i in issues] == [("E1009", "input.data.card_sn")]
    assert "mdtrt_cert_type=03" in issues[0].zh
    message["input"]["data"]["mdtrt_cert_type"] = "02"  # an ID card needs no card_sn
    assert validate(spec, message).valid


def test_an_empty_required_array_and_a_missing_node_are_reported(spec: Spec) -> None:
    message = examples.request(spec, "2301")
    message["input"]["feedetail"] = []
    assert [(i.code, i.path) for i in validate(spec, message).errors] == [("E1011", "input.feedetail")]
    message = examples.request(spec, "2401")
    del message["input"]["mdtrtinfo"]
    assert [(i.code, i.path) for i in validate(spec, message).errors] == [("E1001", "input.mdtrtinfo")]


def test_insuplc_admdvs_is_required_exactly_when_the_input_names_a_person(spec: Spec) -> None:
    with_person = examples.request(spec, "2304", insuplc_admdvs="")
    assert [(i.code, i.path) for i in validate(spec, with_person).errors] == [("E1001", "insuplc_admdvs")]
    sign_in = examples.request(spec, "9001", insuplc_admdvs="")  # 9001 and 1101 send it empty
    assert validate(spec, sign_in).valid


def test_the_response_needs_output_on_success_and_err_msg_on_failure(spec: Spec) -> None:
    ok = examples.response(spec, "2304")
    del ok["output"]
    assert [(i.code, i.path) for i in validate(spec, ok, infno="2304", response=True).errors] == [
        ("E1009", "output")
    ]
    failed = {**examples.response(spec, "2304"), "infcode": -2, "output": None}
    assert [i.code for i in validate(spec, failed, infno="2304", response=True).errors] == ["E1009"]
    failed["err_msg"] = "就诊ID不存在"
    assert validate(spec, failed, infno="2304", response=True).valid


# ── real traffic passes ────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("infcode", [0, "0", -1, "-1", -2, "-2"])
def test_infcode_arrives_as_number_or_string(spec: Spec, infcode: Any) -> None:
    message = examples.response(spec, "2304", infcode=infcode)
    if str(infcode) != "0":
        message.update(output=None, err_msg="业务处理错误")
    assert validate(spec, message, infno="2304", response=True).valid
    message["infcode"] = "0.5"
    assert not validate(spec, message, infno="2304", response=True).valid


@pytest.mark.parametrize("blank", [None, ""])
def test_optional_fields_may_be_null_or_empty(spec: Spec, blank: Any) -> None:
    message = examples.response(spec, "2304")
    setlinfo = message["output"]["setlinfo"]
    read_by_rules = names_read(spec, "2304", "output", "setlinfo")  # blanking those breaks R-AMT-0x
    for name, f in spec.transaction("2304").output["setlinfo"].fields.items():
        if not f.required and name not in read_by_rules:
            setlinfo[name] = blank
    message["warn_msg"] = blank
    assert validate(spec, message, infno="2304", response=True).valid


def test_regional_extra_fields_pass_and_strict_mode_reports_them_as_warnings(spec: Spec) -> None:
    message = examples.response(spec, "2304")
    message["output"]["setlinfo"].update(othfund_pay=0, hifdm_pay=0, psn_pay=3030.0, cashPayamt=3000.0)
    message["output"]["setldetail"][0]["setl_proc_info_ext"] = "x"
    message["enctype"] = ""
    message["recer_admdvs"] = "440100"
    assert validate(spec, message, infno="2304", response=True).issues == []
    strict = validate(spec, message, infno="2304", response=True, strict=True)
    assert strict.valid
    assert {(i.code, i.path) for i in strict.warnings} == {
        ("W1001", "recer_admdvs"),
        ("W1001", "output.setlinfo.othfund_pay"),
        ("W1001", "output.setlinfo.psn_pay"),
        ("W1001", "output.setlinfo.cashPayamt"),
        ("W1001", "output.setldetail[0].setl_proc_info_ext"),
        ("W1001", "output.setlinfo.hifdm_pay"),  # in the dictionary, but not in V1.0's 2304 table
    }
    v11 = validate(loader.load("V1.1"), message, infno="2304", response=True, strict=True)
    assert ("W1001", "output.setlinfo.hifdm_pay") not in {(i.code, i.path) for i in v11.warnings}


def test_strict_mode_warns_on_values_of_open_code_tables_but_not_closed_ones(spec: Spec) -> None:
    message = examples.response(spec, "1101")
    message["output"]["baseinfo"]["naty"] = "97"  # naty is open: the public sources lack the tail
    assert validate(spec, message, infno="1101", response=True).issues == []
    strict = validate(spec, message, infno="1101", response=True, strict=True)
    assert strict.valid and ("W1002", "output.baseinfo.naty") in {(i.code, i.path) for i in strict.warnings}
    assert all(
        i.code == "W1002" and not spec.codes[i.expected.split("代码表")[1]].closed for i in strict.warnings
    )
    message["output"]["baseinfo"]["gend"] = "7"  # gend is closed: an error in both modes
    assert [i.code for i in validate(spec, message, infno="1101", response=True).errors] == ["E1005"]


def test_local_code_extensions_pass(spec: Spec) -> None:
    message = examples.request(spec, "2401")
    message["input"]["mdtrtinfo"]["med_type"] = "9902"  # 99xx: locally assigned
    message["input"]["mdtrtinfo"]["insutype"] = "39999"  # a 5-digit local insurance type
    assert validate(spec, message).valid


def test_a_cancellation_with_negative_amounts_passes(spec: Spec) -> None:
    message = examples.response(spec, "2305")
    setlinfo = message["output"]["setlinfo"]
    for name, f in spec.transaction("2305").output["setlinfo"].fields.items():
        if f.form.kind == "num" and f.form.scale == 2 and isinstance(setlinfo.get(name), float):
            setlinfo[name] = -setlinfo[name]
    assert validate(spec, message, infno="2305", response=True).issues == []


def test_a_real_chongqing_settlement_adds_up(spec: Spec) -> None:
    # The amounts of the Chongqing 2304 sample quoted in nhsa-interface.md §5.6 (E4).
    message = examples.response(spec, "2304")
    message["output"]["setlinfo"].update(
        medfee_sumamt=23442.46,
        fulamt_ownpay_amt=2533.97,
        overlmt_selfpay=1396.89,
        preselfpay_amt=703.44,
        inscp_scp_amt=18808.16,
        fund_pay_sumamt=18785.39,
        hifp_pay=18785.39,
        psn_part_amt=4152.06,
        hosp_part_amt=505.01,
        acct_pay=170.04,
        psn_cash_pay=3982.02,
    )
    assert validate(spec, message, infno="2304", response=True).issues == []


# ── message rules ──────────────────────────────────────────────────────────────────────


def test_each_amount_rule_names_itself_and_where(spec: Spec) -> None:
    cases = [
        ("R-AMT-01", "inscp_scp_amt", 8999.0),
        ("R-AMT-02", "hosp_part_amt", 1.0),
        ("R-AMT-03", "psn_cash_pay", 2999.0),
        ("R-AMT-04", "hifp_pay", 6969.0),
    ]
    for rule, name, value in cases:
        message = examples.response(spec, "2304")
        message["output"]["setlinfo"][name] = value
        issues = validate(spec, message, infno="2304", response=True).errors
        assert rule in {i.rule for i in issues}, (rule, [str(i) for i in issues])
        assert all(i.code == "E5001" and i.path == "output.setlinfo" and i.infcode == -2 for i in issues)


def test_a_fee_line_rule_points_at_the_line(spec: Spec) -> None:
    message = examples.request(spec, "2301")
    message["input"]["feedetail"].append({**message["input"]["feedetail"][0], "feedetl_sn": "F2", "cnt": 2.0})
    issues = validate(spec, message).errors
    assert [(i.rule, i.path) for i in issues] == [("R-AMT-05", "input.feedetail[1]")]


def test_equality_of_money_is_to_the_cent(spec: Spec) -> None:
    message = examples.response(spec, "2304")
    setlinfo = message["output"]["setlinfo"]
    setlinfo.update(
        medfee_sumamt=0.3,
        fulamt_ownpay_amt=0.1,
        overlmt_selfpay=0.2,
        preselfpay_amt=0.0,
        inscp_scp_amt=0.0,
        fund_pay_sumamt=0.0,
        hifp_pay=0.0,
        psn_part_amt=0.3,
        acct_pay=0.0,
        psn_cash_pay=0.3,
    )
    assert validate(spec, message, infno="2304", response=True).valid  # 0.1 + 0.2 != 0.3 in binary


def test_profile_semantics_change_the_amount_rules() -> None:
    zhuhai = loader.load(profile="zhuhai")  # fund_pay_sumamt includes the personal account
    message = examples.response(loader.load(), "2304")
    assert {i.rule for i in validate(zhuhai, message, infno="2304", response=True).errors} == {
        "R-AMT-02",
        "R-AMT-04",
    }
    zhongshan = loader.load(profile="zhongshan")
    message["output"]["setlinfo"]["psn_part_amt"] = 0.0  # 跨省个人负担总金额可能为0
    assert not validate(zhongshan, message, infno="2304", response=True).valid
    assert validate(zhongshan, message, infno="2304", response=True, context={"cross_province": True}).valid
    assert not validate(
        loader.load(), message, infno="2304", response=True, context={"cross_province": True}
    ).valid


def test_a_msgid_without_the_sender_or_a_real_time_is_a_strict_warning_not_a_refusal(spec: Spec) -> None:
    """Real clients send msgids of other forms and platforms accept them (issue #20)."""
    for msgid in ("H99999999999202611101030000001", "H51010000001202613101030000001"):
        message = examples.request(spec, "2304", msgid=msgid)
        assert validate(spec, message).issues == []
        issues = validate(spec, message, strict=True).issues
        assert [(i.code, i.rule, i.severity, i.infcode) for i in issues] == [
            ("W1004", "R-ENV-04", "warning", 0)
        ]
        assert msgid in issues[0].zh


def test_a_field_a_later_version_made_required_is_not_required_of_a_message_sent_under_the_earlier() -> None:
    v11 = loader.load("V1.1")
    answer = examples.response(v11, "2208")
    setlinfo = answer["output"]["setlinfo"]
    setlinfo["pdn_cash_pay"] = setlinfo.pop("psn_cash_pay")  # V1.0's spelling: psn_cash_pay came in V1.1
    assert [i.code for i in validate(v11, answer, infno="2208", response=True).errors] == ["E1001"]
    report = validate(v11, answer, infno="2208", response=True, sent_under="V1.0")
    assert report.valid and [(i.code, i.path) for i in report.warnings] == [
        ("W1003", "output.setlinfo.psn_cash_pay")
    ]
    assert "V1.1新增" in report.warnings[0].zh and "V1.0" in report.warnings[0].zh
    # a request states its own version: 2401 by card without card_sn, required from V1.1 on
    request = examples.request(loader.load(), "2401")
    request["input"]["mdtrtinfo"].update(mdtrt_cert_type="03", card_sn="")
    assert validate(v11, request).valid
    refused = validate(v11, {**request, "infver": "V1.1"}).errors
    assert [i.path for i in refused] == ["input.mdtrtinfo.card_sn"]
    # what the earlier version required too stays an error
    request["input"]["mdtrtinfo"]["psn_no"] = ""
    assert "E1001" in [i.code for i in validate(v11, request).errors]


def test_a_regional_value_of_an_extensible_table_names_the_profile_that_has_it() -> None:
    base = loader.load()
    answer = examples.response(base, "1101")
    answer["output"]["insuinfo"][0]["psn_type"] = "11"  # Chongqing's 在职
    report = validate(base, answer, infno="1101", response=True)
    assert report.valid and [(i.code, i.severity) for i in report.warnings] == [("W1005", "warning")]
    assert "chongqing" in report.warnings[0].zh
    assert validate(loader.load(profile="chongqing"), answer, infno="1101", response=True).issues == []
    answer["output"]["insuinfo"][0]["psn_type"] = "77"  # no region's: refused as before
    assert [i.code for i in validate(base, answer, infno="1101", response=True).errors] == ["E1005"]


# ── unusable messages and the shape of an issue ───────────────────────────────────────


def test_not_an_object_unknown_or_mismatched_infno(spec: Spec) -> None:
    assert [i.code for i in validate(spec, ["not", "an", "object"]).issues] == ["E1007"]
    assert [i.code for i in validate(spec, {"infno": "0000"}).issues] == ["E1008"]
    wrong = {**examples.request(spec, "2304"), "infno": "2303"}
    assert [(i.code, i.path) for i in validate(spec, wrong, infno="2304").errors] == [("E1012", "infno")]


def test_an_issue_names_path_chinese_name_rule_and_form_in_both_languages(spec: Spec) -> None:
    message = examples.request(spec, "2304")
    message["input"]["data"]["psn_no"] = "9" * 31
    (issue,) = validate(spec, message).errors
    assert issue.path == "input.data.psn_no" and issue.rule == "R-ENV-01" and issue.infcode == -1
    assert "input.data.psn_no（人员编号）超长" in issue.zh and "30" in issue.zh
    assert "input.data.psn_no (人员编号) is too long" in issue.en
    assert issue.err_msg.startswith("[E1003]") and len(issue.err_msg) <= 200
    assert issue.expected == "char(30)"


def test_compiled_validators_are_built_once_per_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    from yidi.specs import compiler

    spec = loader.load(profile="shanghai")
    spec.cache.clear()
    built = []
    original = compiler.request_schema
    monkeypatch.setattr(compiler, "request_schema", lambda *a, **k: built.append(a[1]) or original(*a, **k))
    message = examples.request(spec, "2304")
    for _ in range(5):
        validate(spec, copy.deepcopy(message))
    assert built == ["2304"]


def test_2208_may_spell_the_cash_payment_pdn_cash_pay(spec: Spec) -> None:
    message = examples.response(spec, "2208")
    setlinfo = message["output"]["setlinfo"]
    del setlinfo["psn_cash_pay"]  # as the 2208 table spells it, in three independent clients
    assert validate(spec, message, infno="2208", response=True).valid
    setlinfo["psn_cash_pay"] = setlinfo.pop("pdn_cash_pay")
    assert validate(spec, message, infno="2208", response=True).valid
    setlinfo["psn_cash_pay"] = 1.0
    assert {i.rule for i in validate(spec, message, infno="2208", response=True).errors} == {"R-AMT-03"}
