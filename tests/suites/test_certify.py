"""`yidi certify`: the verdict, the exit code a CI gate reads, the evidence, and re-certification scope."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from yidi.cli import app
from yidi.reports import evidence, issuer
from yidi.simulators import partition
from yidi.simulators.app import PRODUCT, Options
from yidi.simulators.background import free_port, serving
from yidi.simulators.faults import MUTANTS
from yidi.specs import loader
from yidi.suites import catalogue
from yidi.suites.certify import Request, since
from yidi.world import topology

TWO = "JT-ADM-002,JT-SET-008"  # a refusal and a cancel-then-settle-again


def certify(*args: str) -> Result:
    return CliRunner().invoke(app, ["certify", *args], env={"COLUMNS": "200"})


def report(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "certification.json").read_text(encoding="utf-8"))
    return doc


def test_a_passing_run_exits_0_and_keeps_every_message_as_evidence(tmp_path: Path) -> None:
    result = certify("--cases", TWO, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "treatment 认证 通过 PASS  2/2" in result.output
    doc = report(tmp_path)
    assert doc["verdict"] == "pass"
    assert doc["summary"] == {
        "total": 2,
        "passed": 2,
        "failed": 0,
        "error": 0,
        "skipped": 0,
        "blocked": 0,
        "not_applicable": 0,
        "mandatory_failed": 0,
    }
    resettled = next(c for c in doc["cases"] if c["id"] == "JT-SET-008")
    infnos = [m["infno"] for m in resettled["messages"]]
    assert infnos.count("2304") == 2 and "2305" in infnos
    assert all(m["response"]["infcode"] == 0 for m in resettled["messages"])
    # who signed each request, and how: the x-tif headers as sent
    for m in resettled["messages"]:
        assert set(m["headers"]) == {"x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature"}
        assert re.fullmatch(r"[0-9a-f]{64}", m["headers"]["x-tif-signature"])
    assert doc["system"] == {"product": PRODUCT, "version": version("yidi"), "address": "builtin"}
    assert evidence.verify(doc, issuer.load().public)  # signed by this machine's issuer (the tests' key)
    junit = (tmp_path / "junit.xml").read_text(encoding="utf-8")
    assert 'name="case" value="JT-SET-008"' in junit
    allure = [json.loads(p.read_text()) for p in (tmp_path / "allure-results").glob("*-result.json")]
    assert {label["value"] for r in allure for label in r["labels"] if label["name"] == "story"} == set(
        TWO.split(",")
    )
    assert {link["name"] for r in allure for link in r["links"] if link["type"] == "tms"} == set(
        TWO.split(",")
    )


def test_a_mutant_fails_the_run_and_the_report_names_the_case_and_rule(tmp_path: Path) -> None:
    result = certify("--cases", TWO, "--mutant", "skip-filing-check", "--out", str(tmp_path))
    assert result.exit_code == 1, result.output
    assert "caught by: JT-ADM-002" in result.output
    doc = report(tmp_path)
    caught = next(c for c in doc["cases"] if c["id"] == "JT-ADM-002")
    assert caught["outcome"] == "failed"
    assert "【2303】" in caught["reason"] and "E3002" in caught["reason"] and "R-FILE-01" in caught["reason"]
    assert caught["actual"]["infcode"] == 0 and caught["expected"]["err_msg"].startswith("[E3002]")
    wording = loader.load().rules["R-FILE-01"].zh
    failure = caught["failure"]
    assert failure == {
        "kind": "not_refused",
        "title": "应拒绝而受理",
        "rule": "R-FILE-01",
        "rule_zh": wording,
        "infno": "2303",
        "msgid": failure["msgid"],
        "message": "应拒绝（E3002），实际成功",
    }
    assert caught["reason"] == f"【2303】{failure['msgid']} 应拒绝（E3002），实际成功 · R-FILE-01 {wording}"
    assert any(m["msgid"] == failure["msgid"] and m["infno"] == "2303" for m in caught["messages"])
    passed = next(c for c in doc["cases"] if c["id"] == "JT-SET-008")
    assert passed["outcome"] == "passed" and passed["failure"] is None
    assert doc["mutants"] == ["skip-filing-check"]
    # the document names what the report shows beside the codes: it needs neither this yidi nor its spec
    titles = doc["titles"]
    assert titles["mutants"] == {
        "skip-filing-check": {
            "rule": "R-FILE-01",
            "zh": "不校验异地就医备案",
            "en": MUTANTS["skip-filing-check"].en,
        }
    }
    assert titles["transactions"]["2303"] == {"zh": "住院预结算", "en": "Inpatient pre-settlement"}
    assert set(titles["transactions"]) == {t for c in doc["cases"] for t in c["transactions"]} | {
        m["infno"] for c in doc["cases"] for m in c["messages"]
    }
    assert titles["rules"]["R-FILE-01"]["zh"] == wording
    assert set(titles["rules"]) == {"R-FILE-01", "R-AMT-12"}  # cited by the two cases and the mutant


def test_a_system_given_by_url_is_certified_from_its_own_roster(tmp_path: Path) -> None:
    with serving(Options(db=f"sqlite:///{tmp_path}/sut.db")) as sut:
        cases = ["--cases", "JT-ADM-002,JT-REL-003,JT-REL-011"]
        locked = certify("--sut", sut.url, *cases, "--out", str(tmp_path / "t"))  # its roster: behind admin
        assert locked.exit_code == 2 and "401" in locked.output and "--admin-token" in locked.output
        opens = ["--admin-token", sut.sim.admin_token]
        treatment = certify("--sut", sut.url, *opens, *cases, "--out", str(tmp_path / "t"))
        hub = certify("--role", "hub", "--sut", sut.url, *opens, "--out", str(tmp_path / "h"))
    assert treatment.exit_code == 0, treatment.output
    # the certificate names the system: its product and version as its roster says, and where it was
    assert report(tmp_path / "t")["system"] == {
        "product": PRODUCT,
        "version": version("yidi"),
        "address": sut.url,
    }
    outcomes = {c["id"]: c["outcome"] for c in report(tmp_path / "t")["cases"]}
    # a lost answer needs no fault (the HIS just never reads it); an insured-side failure behind a system of
    # one's own cannot be caused from here: skipped, and optional for that reason
    assert outcomes == {"JT-ADM-002": "passed", "JT-REL-003": "passed", "JT-REL-011": "skipped"}
    assert report(tmp_path / "t")["sut"] == sut.url
    # the hub's cases inject faults in the insured provinces behind it, which are yidi's
    assert hub.exit_code == 0, hub.output
    others = {c["id"]: c["outcome"] for c in report(tmp_path / "h")["cases"] if c["outcome"] != "passed"}
    clearing = {c for c in catalogue.load() if c.startswith("JT-CLR-2")}  # they set yidi's clock or funds
    assert others == dict.fromkeys(clearing, "skipped") and len(clearing) == 7


def test_a_partitioned_yidi_is_certified_as_a_hub_its_outages_injected_where_the_insured_side_is(
    tmp_path: Path,
) -> None:
    """The hub beside one group of provinces, Shaanxi (P21's insured province) in the other process: the
    outage JT-REL-202 sends to that process must silence the platform to the hub's as well."""
    provinces, ports = list(topology.load().provinces), [free_port(), free_port()]
    deployment = partition.plan(provinces, 2, db=f"sqlite:///{tmp_path}/s.db", ports=ports, hub_alone=False)
    hub_process, other = deployment.processes
    assert "province:610000" in other.nodes and "hub" in hub_process.nodes
    with partition.running(deployment, token="t"):
        hub = certify(
            "--role", "hub", "--sut", deployment.url, "--admin-token", "t",
            "--cases", "JT-REL-20*", "--out", str(tmp_path / "h"),
        )  # fmt: skip
    outcomes = {c["id"]: c["outcome"] for c in report(tmp_path / "h")["cases"]}
    assert hub.exit_code == 0, hub.output
    assert outcomes["JT-REL-202"] == "passed", outcomes


def test_a_run_that_cannot_happen_is_one_line_and_exit_2_not_a_failed_certification(tmp_path: Path) -> None:
    for args in (
        ["--sut", "http://127.0.0.1:9"],  # nothing answers there
        ["--sut", "http://127.0.0.1:9", "--mutant", "skip-filing-check"],  # mutants are yidi's own
        ["--roster", str(tmp_path / "missing.json"), "--sut", "http://127.0.0.1:9"],
        ["--world", str(tmp_path / "missing.yaml")],
    ):
        result = certify(*args, "--cases", "JT-ADM-002", "--out", str(tmp_path))
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("✗ 未能运行 could not run:") and result.output.count("\n") == 1, (
            result.output
        )
        assert not (tmp_path / "certification.json").exists()  # no certificate, not even a failed one


def test_bad_options_get_a_clear_answer(tmp_path: Path) -> None:
    result = certify("--role", "clinic", "--out", str(tmp_path))
    assert result.exit_code == 2 and "treatment, insured, hub, his" in result.output
    result = certify("--mutant", "no-such-thing", "--out", str(tmp_path))
    assert result.exit_code == 2 and "yidi mutants" in result.output


def test_since_selects_the_cases_a_spec_change_touches_and_the_smoke_set() -> None:
    cases = catalogue.load()
    chosen = set(since("V1.0", Request(spec="V1.1")).split(","))
    assert "JT-SET-003" in chosen  # 2303/2304 changed from V1.0 to V1.1
    assert "JT-ADM-006" not in chosen or cases["JT-ADM-006"].smoke  # 1101 only: untouched
    assert {c.id for c in cases.values() if c.smoke} <= chosen
    assert since("V1.1", Request(spec="V1.1")).split(",") == sorted(c.id for c in cases.values() if c.smoke)


def test_a_roster_without_the_case_person_says_so(tmp_path: Path) -> None:
    with serving(Options(db=f"sqlite:///{tmp_path}/sut.db")) as sut:
        roster = {**sut.roster, "persons": [p for p in sut.roster["persons"] if p["key"] != "P05"]}
        (tmp_path / "roster.json").write_text(json.dumps(roster, ensure_ascii=False), encoding="utf-8")
        args = ["--sut", sut.url, "--roster", str(tmp_path / "roster.json"), "--cases", "JT-ADM-002"]
        result = certify(*args, "--out", str(tmp_path / "out"))
        # a roster that does not say what the system is: the certificate cannot name it unless told
        unnamed = {k: v for k, v in roster.items() if k != "system"}
        (tmp_path / "unnamed.json").write_text(json.dumps(unnamed, ensure_ascii=False), encoding="utf-8")
        args[3] = str(tmp_path / "unnamed.json")
        anonymous = certify(*args, "--out", str(tmp_path / "anonymous"))
        assert anonymous.exit_code == 2 and "--sut-product NAME --sut-version V" in anonymous.output
        certify(
            *args, "--sut-product", "某省就医地平台", "--sut-version", "3.2.1", "--out", str(tmp_path / "n")
        )
        system = report(tmp_path / "n")["system"]
        assert system == {"product": "某省就医地平台", "version": "3.2.1", "address": sut.url}
    assert result.exit_code == 1, result.output
    (case,) = report(tmp_path / "out")["cases"]
    assert case["outcome"] == "error" and "测试名册中没有本用例所需的测试人员P05" in case["reason"]


def test_a_run_of_some_cases_says_it_is_partial_and_no_certificate(tmp_path: Path) -> None:
    result = certify("--cases", "JT-ADM-002", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "部分运行（--cases JT-ADM-002），不作为认证" in result.output
    assert report(tmp_path)["scope"] == {"partial": True, "cases": "JT-ADM-002"}
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="partial"' in html and "不作为认证" in html
