from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from yidi.specs import loader, overlay
from yidi.specs.model import Form, Spec, Target

# What issue #2 asks the spec to hold, at the least.
REQUIRED_INFNOS = {
    "9001",
    "9002",
    "1101",
    "2401",
    "2402",
    "2403",
    "2404",
    "2405",
    "2301",
    "2302",
    "2303",
    "2304",
    "2305",
    "2601",
    "2501",
    "2502",
    "3201",
    "3202",
    "9101",
    "9102",
    "3260",
    "3261",
    "3262",
    "5203",
    "5204",
    "5303",
    "5206",
    "2201",
    "2202",
    "2203",
    "2204",
    "2205",
    "2206",
    "2207",
    "2208",
}
HUB_PURPOSES = {
    "Y1101",
    "Y2401",
    "Y2404",
    "Y2303",
    "Y2304",
    "Y2305",
    "Y2601",
    "Y2301",
    "Y2501",
    "Y2502",
    "Y2503",
    "Y2504",
    "Y5206",
}
CODE_TABLES = {
    "mdtrt_cert_type",
    "psn_cert_type",
    "insutype",
    "med_type",
    "psn_type",
    "fund_pay_type",
    "med_chrgitm_type",
    "chrgitm_lv",
    "list_type",
    "clr_type",
    "psn_setlway",
    "refd_setl_flag",
    "stmt_rslt",
    "cnfm_flag",
    "diag_type",
    "opter_type",
    "fil_type",
}


def test_every_version_and_profile_loads_without_lint_problems(any_spec: Spec) -> None:
    assert loader.lint(any_spec) == []


def test_the_spec_holds_the_transactions_and_code_tables_the_issue_names(spec: Spec) -> None:
    assert set(spec.transactions) >= REQUIRED_INFNOS
    assert set(spec.transactions) >= HUB_PURPOSES
    assert set(spec.codes) >= CODE_TABLES
    assert all(spec.transactions[i].yidi for i in HUB_PURPOSES)
    assert not any(spec.transactions[i].yidi for i in REQUIRED_INFNOS)


def test_filing_types_cover_the_four_long_term_and_temporary_classes(spec: Spec) -> None:
    names = set(spec.codes["fil_type"].values.values())
    for kind in ("异地安置退休", "异地长期居住", "常驻异地工作", "异地转诊", "临时外出就医"):
        assert any(kind in n for n in names), kind


def test_fields_resolve_from_the_dictionary_with_overrides(spec: Spec) -> None:
    card_sn = spec.transaction("1101").input["data"].fields["card_sn"]
    assert (card_sn.zh, card_sn.form, card_sn.required_when) == (
        "卡识别码",
        Form("char", 32),
        {"mdtrt_cert_type": "03"},
    )
    setlinfo_2303 = spec.transaction("2303").output["setlinfo"]
    assert "setl_id" not in setlinfo_2303.fields  # `omit` on a shared node
    assert spec.transaction("2305").output["setlinfo"].fields["setl_time"].required  # override of `pick`ed O
    assert spec.transaction("5203").output["setlinfo"].fields["fixmedins_code"].form == Form("char", 12)


def test_message_rules_keep_their_targets(spec: Spec) -> None:
    # YAML 1.1 reads a key named `on` as True: rules once silently lost every target.
    message_rules = [r for r in spec.rules.values() if r.kind == "message"]
    assert message_rules and all(r.on for r in message_rules)


def test_refs_select_version_and_profile() -> None:
    assert loader.parse_ref("V1.1+guangzhou") == ("V1.1", "guangzhou")
    assert loader.parse_ref("guangzhou") == (None, "guangzhou")
    assert loader.parse_ref("V1.1") == ("V1.1", None)
    s = loader.load("V1.1+guangzhou")
    assert (s.version, s.profile, s.status, s.ref) == ("V1.1", "guangzhou", "draft", "V1.1+guangzhou")
    assert loader.load("V1.0+guangzhou") is loader.load(profile="guangzhou")  # cached


def test_unknown_version_or_profile_is_refused_with_the_known_ones() -> None:
    with pytest.raises(loader.SpecError, match="known: base"):
        loader.load(profile="atlantis")
    with pytest.raises(loader.SpecError, match=r"V1\.0"):
        loader.load("V9.9")


def test_merge_patch_follows_rfc_7386() -> None:
    target = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]}
    patch = {"a": None, "b": {"c": None, "x": 4}, "e": [9]}
    assert overlay.merge_patch(target, patch) == {"b": {"d": 3, "x": 4}, "e": [9]}
    assert target == {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]}  # untouched


def test_overlay_renames_nodes_in_place_and_copies_transactions() -> None:
    raw = {"transactions": {"2304": {"infno": "2304", "input": {"data": {"fields": {"a": "R"}}, "x[]": {}}}}}
    out = overlay.apply(
        raw,
        {
            "transactions": {
                "2304": {"rename": {"input": {"data": "mdtrtinfo", "x": "y"}}},
                "2304A": {"copy": "2304", "infno": "2304A"},
            }
        },
    )
    assert list(out["transactions"]["2304"]["input"]) == ["mdtrtinfo", "y[]"]
    assert out["transactions"]["2304A"]["input"] == {"data": {"fields": {"a": "R"}}, "x[]": {}}
    with pytest.raises(KeyError, match="nope"):
        overlay.apply(raw, {"transactions": {"2304": {"rename": {"input": {"nope": "z"}}}}})


def test_a_profile_file_of_ones_own_applies(tmp_path: Path) -> None:
    own = tmp_path / "henan.yaml"
    own.write_text(
        yaml.safe_dump({"profile": "henan", "codes": {"psn_type": {"values": {"1199": "本地扩展"}}}}),
        encoding="utf-8",
    )
    s = loader.load(profile=str(own))
    assert s.profile == "henan" and s.codes["psn_type"].values["1199"] == "本地扩展"


def test_the_service_targets_have_a_default_and_settlement_and_episode_entries(spec: Spec) -> None:
    assert spec.target("default") == spec.target("1101") == Target(2000, 5000, 0.001)
    assert spec.target("2304") == spec.target("2303") == Target(3000, 8000, 0.001)  # error rate of default
    assert spec.target("inpatient episode") == spec.target("outpatient episode") == Target(20000, 30000, 0.01)


def test_a_profile_overrides_one_service_target_and_leaves_the_rest(tmp_path: Path, spec: Spec) -> None:
    own = tmp_path / "fast.yaml"
    own.write_text(
        yaml.safe_dump({"profile": "fast", "service": {"targets": {"2304": {"p95_ms": 1500}}}}),
        encoding="utf-8",
    )
    s = loader.load(profile=str(own))
    assert s.target("2304") == Target(1500, 8000, 0.001)
    assert {k: v for k, v in s.targets.items() if k != "2304"} == {
        k: v for k, v in spec.targets.items() if k != "2304"
    }


@pytest.mark.parametrize(
    ("targets", "problem"),
    [
        ({"2304": {"p95_ms": -1}}, "service.targets.2304.p95_ms: -1 is not a number ≥ 0"),
        ({"2304": {"error_rate": 5}}, "service.targets.2304.error_rate: 5 is over 1"),
        ({"9999": {"p95_ms": 100}}, "service.targets: '9999' is neither an infno of the spec nor an episode"),
        ({"2304": {"p95": 100}}, "service.targets.2304: unknown metric 'p95'"),
        ({"2304": {"p95_ms": "fast"}}, "service.targets.2304.p95_ms: expected a number, got 'fast'"),
    ],
)
def test_a_bad_service_target_is_reported(tmp_path: Path, targets: dict[str, object], problem: str) -> None:
    own = tmp_path / "bad.yaml"
    own.write_text(yaml.safe_dump({"profile": "bad", "service": {"targets": targets}}), encoding="utf-8")
    with pytest.raises(loader.SpecError) as caught:
        loader.load(profile=str(own))
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize("service", [None, "# no targets\n"])
def test_a_spec_folder_without_service_targets_has_none(tmp_path: Path, service: str | None) -> None:
    root = tmp_path / "data"
    shutil.copytree(loader.data_dir(), root)
    if service is None:
        (root / "service.yaml").unlink()
    else:
        (root / "service.yaml").write_text(service, encoding="utf-8")
    s = loader.load(root=root)
    assert s.targets == {} and s.target("2304") == Target(None, None, None)


def test_a_broken_spec_folder_fails_with_every_problem_listed(tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(loader.data_dir(), root)
    txn = root / "transactions" / "2304.yaml"
    raw = yaml.safe_load(txn.read_text(encoding="utf-8"))
    raw["input"]["data"]["fields"]["psn_setlway"] = {"required": True, "code": "no_such_table"}
    raw["errors"].append("E9999")
    txn.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(loader.SpecError) as caught:
        loader.load(root=root)
    problems = "\n".join(caught.value.problems)
    assert "2304.input.data.psn_setlway: unknown code table 'no_such_table'" in problems
    assert "2304: unknown error E9999" in problems


def test_the_checkouts_pytest_options_select_the_spec(pytester: pytest.Pytester) -> None:
    # `pytest suites/ --spec …` from the checkout: pyproject's addopts load the suites' plugin
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    addopts = pyproject["tool"]["pytest"]["ini_options"]["addopts"].split()
    pytester.makepyfile("def test_spec(yidi_spec):\n    assert yidi_spec.ref == 'V1.1+guangzhou'\n")
    pytester.runpytest(*addopts, "--spec", "V1.1+guangzhou").assert_outcomes(passed=1)


def test_the_package_data_globs_ship_every_data_file() -> None:
    # An editable install reads the source tree; a wheel carries only what these globs match.
    import tomllib

    root = Path(__file__).parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    for package, patterns in config["package-data"].items():
        folder = root.joinpath(config["package-dir"]["yidi"], *package.split(".")[1:])
        shipped = {p for pattern in patterns for p in folder.glob(pattern)}
        assert set(folder.glob("data/**/*.yaml")) <= shipped, package
