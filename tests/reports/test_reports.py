"""The reports without a browser: the seal, the verdict rule, escaping, and ``yidi report``."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from yidi.reports import allure, evidence, issuer, write
from yidi.reports.cli import app
from yidi.reports.html import diff, render
from yidi.specs import loader
from yidi.suites.document import contradictions, summary, verdict

HOSTILE = "<script>alert('x')</script>"


# ── the signature ────────────────────────────────────────────────────

ISSUER = Ed25519PrivateKey.generate()
ISSUER_ID = issuer.key_id(ISSUER.public_key())


def sign(doc: dict[str, Any], key: Ed25519PrivateKey = ISSUER) -> dict[str, Any]:
    return evidence.sign(doc, "省医保局测试组", key)


def test_the_signature_covers_the_canonical_json_with_its_issuer() -> None:
    doc = sign({"b": 1, "a": "中文", evidence.LEGACY: "an old digest"})
    assert evidence.LEGACY not in doc and doc["issuer"]["name"] == "省医保局测试组"
    public = ISSUER.public_key()
    assert doc["issuer"]["key_id"] == hashlib.sha256(issuer.raw(public)).hexdigest()
    unsigned = {k: v for k, v in doc.items() if k != evidence.KEY}
    canonical = json.dumps(unsigned, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    public.verify(base64.b64decode(doc["signature"]["value"]), canonical)  # any Ed25519 library can check
    assert doc["signature"]["alg"] == "Ed25519"


def test_a_signed_document_verifies_and_an_edited_one_does_not(document: dict[str, Any]) -> None:
    signed = sign(document)
    assert evidence.verify(signed) and evidence.verify(signed, ISSUER.public_key())
    assert evidence.verify(json.loads(json.dumps(signed, ensure_ascii=False, indent=2)))  # layout is free
    edited = json.loads(json.dumps(signed))
    edited["cases"][0]["outcome"] = "passed"
    assert evidence.check(edited).state == "edited"
    assert not evidence.verify({**signed, "verdict": "pass"})
    assert not evidence.verify({**signed, "issuer": {**signed["issuer"], "name": "国家医保局"}})
    assert evidence.check(document).state == "unsigned"


def test_a_document_re_signed_by_someone_else_is_not_the_issuers(document: dict[str, Any]) -> None:
    """The attack of issue #20: edit a failing document to pass and sign it again with yidi's own code."""
    forged = json.loads(json.dumps(sign(document)))
    forged["verdict"], forged["cases"] = "pass", [c | {"outcome": "passed"} for c in forged["cases"]]
    forged = sign(forged, Ed25519PrivateKey.generate())
    assert evidence.verify(forged)  # consistent with the key it names, which is not the issuer's
    assert evidence.check(forged, ISSUER.public_key()).state == "other_issuer"
    assert not evidence.verify(forged, ISSUER.public_key())
    bare = {k: v for k, v in forged.items() if k not in (evidence.KEY, "issuer")}  # the old bare seal
    assert (
        evidence.check(bare | {evidence.LEGACY: evidence.digest(bare)}, ISSUER.public_key()).state
        == "unsigned"
    )


def test_write_signs_the_json_and_keeps_chinese_as_chinese(document: dict[str, Any], tmp_path: Path) -> None:
    me = issuer.load(tmp_path / "key.pem", "测试组")
    paths = write(document, tmp_path / "out", me)
    assert set(paths) == {"json", "html"}
    text = paths["json"].read_text(encoding="utf-8")
    assert "未备案人员跨省结算应被拒绝" in text and "\\u" not in text
    written = json.loads(text)
    assert evidence.verify(written, issuer.trusted(tmp_path / "key.pem"))
    assert written["issuer"]["name"] == "测试组"
    assert stat.S_IMODE(os.stat(tmp_path / "key.pem").st_mode) == 0o600  # the private key: its owner's only


# ── the verdict rule ─────────────────────────────────────────────────


def case(outcome: str, mandatory: bool = True) -> dict[str, Any]:
    return {"id": "JT-X", "outcome": outcome, "mandatory": mandatory}


@pytest.mark.parametrize(
    ("cases", "expected"),
    [
        ([case("passed"), case("passed", False)], "pass"),
        ([case("passed"), case("failed")], "fail"),
        ([case("passed"), case("error")], "fail"),
        ([case("passed"), case("failed", False), case("error", False)], "pass"),  # optional cases never gate
        ([case("passed"), case("skipped")], "fail"),  # a mandatory case must pass, not be skipped
        ([case("passed"), case("skipped", False)], "pass"),
        ([], "pass"),
    ],
)
def test_the_verdict_fails_on_a_mandatory_case_that_did_not_pass(
    cases: list[dict[str, Any]], expected: str
) -> None:
    assert verdict(cases) == expected


def test_the_fixture_counts_and_fails(document: dict[str, Any]) -> None:
    assert summary(document["cases"]) == document["summary"]
    assert verdict(document["cases"]) == document["verdict"] == "fail"
    assert contradictions(document) == []


def test_a_pass_over_a_failed_mandatory_case_is_refused(document: dict[str, Any], tmp_path: Path) -> None:
    document["verdict"] = "pass"
    with pytest.raises(ValueError, match="JT-ADM-002"):
        write(document, tmp_path)
    assert not (tmp_path / "certification.json").exists()


def test_a_stricter_producer_is_no_contradiction(document: dict[str, Any]) -> None:
    """A FAIL that the rule alone would not give (problems of the run)."""
    document["cases"] = [c for c in document["cases"] if c["outcome"] in ("passed", "skipped")]
    document["summary"] = summary(document["cases"])
    document["problems"] = ["suites/treatment/test_x.py: ImportError"]
    assert contradictions(document) == []
    html = render(sign(document))
    assert "测试运行出现问题" in html and "ImportError" in html


# ── the page ─────────────────────────────────────────────────────────


def test_hostile_text_from_the_sut_is_escaped(document: dict[str, Any]) -> None:
    failed = document["cases"][0]
    failed["reason"] = f"【2303】{HOSTILE}"
    failed["actual"] = {"err_msg": HOSTILE}
    failed["messages"][-1]["response"]["err_msg"] = HOSTILE
    html = render(document)
    assert "<script" not in html  # the report has no script of its own either
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_the_page_is_self_contained_and_shows_chinese(document: dict[str, Any]) -> None:
    html = render(sign(document))
    assert "收费员甲" in html and "\\u" not in html  # messages: Chinese as Chinese
    for pattern in ('src="', 'href="http', "@import", "url(", "<link", "<iframe"):
        assert pattern not in html, pattern
    assert "跨省异地就医直接结算联调测试认证报告" in html and "Joint-test certification report" in html
    assert ISSUER_ID in html and "yidi report verify certification.json --issuer-key" in html


def test_a_demonstration_run_says_it_certifies_nothing(document: dict[str, Any]) -> None:
    document["mutants"] = ["skip-filing-check"]
    document["titles"]["mutants"] = {"skip-filing-check": SKIP_FILING_CHECK}  # as yidi certify writes it
    html = render(sign(document))
    assert 'id="demonstration"' in html and "演示运行，非认证结论" in html and "不校验异地就医备案" in html
    assert 'id="demonstration"' not in render(sign({**document, "mutants": []}))


# ── the page is drawn from the document alone ────────────────────────

SKIP_FILING_CHECK = {
    "rule": "R-FILE-01",
    "zh": "不校验异地就医备案",
    "en": "the insured side does not check filing",
}


@pytest.fixture
def nothing_but_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spec is not at hand where the report is drawn (nor are the simulators: the layers' contract)."""

    def unavailable(*args: object, **kwargs: object) -> None:
        raise AssertionError("the report read the spec, not the document")

    monkeypatch.setattr(loader, "load", unavailable)


@pytest.mark.usefixtures("nothing_but_the_document")
def test_the_titles_come_from_the_document(document: dict[str, Any]) -> None:
    document["mutants"] = ["skip-filing-check"]
    document["titles"]["mutants"] = {"skip-filing-check": SKIP_FILING_CHECK}
    html = render(sign(document))
    assert "住院预结算" in html  # the name of a message exchanged (2303)
    assert 'title="跨省直接结算须已办理异地就医备案（急诊视同备案）">R-FILE-01<' in html  # a rule cited
    assert "不校验异地就医备案" in html and "the insured side does not check filing" in html  # the mutant
    document["titles"]["transactions"]["2303"] = {"zh": "文档里的交易名称", "en": "its own name"}
    document["titles"]["mutants"]["skip-filing-check"] = {**SKIP_FILING_CHECK, "zh": "文档里的变异体名称"}
    html = render(document)
    assert "文档里的交易名称" in html and "文档里的变异体名称" in html and "不校验异地就医备案" not in html


@pytest.mark.usefixtures("nothing_but_the_document")
def test_a_failure_shows_its_rule_and_message_from_the_document(document: dict[str, Any]) -> None:
    html = render(sign(document))
    failure = html[html.index('id="case-JT-ADM-002"') : html.index("</article>")]
    assert "应拒绝（E3002），实际成功 · R-FILE-01 跨省直接结算须已办理异地就医备案（急诊视同备案）" in failure
    facts = failure[failure.index('class="failure-facts"') :]
    assert "应拒绝而受理" in facts and ">R-FILE-01<" in facts
    assert "【2303】" in facts and "H50000000001202611232054550006" in facts
    diff = failure[failure.index('class="diff"') :]  # expected against actual, as before
    assert '<span class="line del">-   &#34;infcode&#34;: &#34;-1 或 -2&#34;,</span>' in diff
    assert '<span class="line add">+   &#34;infcode&#34;: 0,</span>' in diff


@pytest.mark.usefixtures("nothing_but_the_document")
def test_an_older_document_without_titles_shows_the_bare_codes(document: dict[str, Any]) -> None:
    del document["titles"]
    for c in document["cases"]:
        del c["failure"]
    document["mutants"] = ["skip-filing-check"]
    html = render(sign(document))
    assert "<code>skip-filing-check</code>" in html and "不校验异地就医备案" not in html
    assert 'title="">R-FILE-01<' in html and "住院预结算" not in html
    assert (
        'class="failure-facts"' not in html and "应拒绝（E3002），实际成功" in html
    )  # its reason as written
    document["titles"] = {"mutants": ["not", "a", "mapping"], "rules": {"R-FILE-01": "nor this"}}
    assert "<code>skip-filing-check</code>" in render(document)


def test_an_edited_document_is_reported_as_such(document: dict[str, Any]) -> None:
    sealed = sign(document)
    sealed["cases"][0]["reason"] = "（已修改）"
    html = render(sealed)
    assert 'id="seal-broken"' in html and "不一致 edited" in html
    assert 'id="seal-broken"' not in render(sign(document))


def test_the_diff_marks_expected_as_removed_and_actual_as_added() -> None:
    lines = diff({"infcode": "-1 或 -2", "msgid": "M1"}, {"infcode": 0, "msgid": "M1"})
    assert ("-", '  "infcode": "-1 或 -2",') in lines
    assert ("+", '  "infcode": 0,') in lines
    assert (" ", '  "msgid": "M1"') in lines


# ── yidi report ──────────────────────────────────────────────────────

runner = CliRunner()


@pytest.fixture
def folder(document: dict[str, Any], tmp_path: Path) -> Path:
    """A certify folder: the sealed document and some Allure results."""
    out = tmp_path / "run"
    write(document, out)
    (out / "report.html").unlink()
    (out / "allure-results").mkdir()
    (out / "allure-results" / "0-result.json").write_text("{}", encoding="utf-8")
    return out


def test_verify_says_consistent_or_edited(folder: Path) -> None:
    file = folder / "certification.json"
    done = runner.invoke(app, ["verify", str(file)])  # this machine's issuer key (the tests')
    assert done.exit_code == 0 and "一致" in done.output and "不一致" not in done.output
    doc = json.loads(file.read_text(encoding="utf-8"))
    doc["cases"][0]["outcome"] = "passed"
    file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    done = runner.invoke(app, ["verify", str(file)])
    assert done.exit_code == 1 and "不一致" in done.output and "edited" in done.output


def test_verify_with_the_issuers_public_key_refuses_a_document_someone_else_signed(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = runner.invoke(app, ["key"])  # what the issuer hands out
    assert key.exit_code == 0 and key.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    public = tmp_path / "issuer.pub"
    public.write_text(key.stdout, encoding="utf-8")
    file = folder / "certification.json"
    monkeypatch.setenv(issuer.ENV, str(tmp_path / "nobody-here.pem"))  # a receiver with no key of its own
    assert runner.invoke(app, ["verify", str(file)]).exit_code == 2  # told to give the issuer's key
    done = runner.invoke(app, ["verify", str(file), "--issuer-key", str(public)])
    assert done.exit_code == 0 and "一致" in done.output
    # a failing certificate edited to pass and re-signed with yidi's own code, on another machine
    doc = json.loads(file.read_text(encoding="utf-8"))
    doc["verdict"], doc["cases"] = "pass", [c | {"outcome": "passed"} for c in doc["cases"]]
    doc["summary"] = summary(doc["cases"])
    write(doc, folder, issuer.load())
    done = runner.invoke(app, ["verify", str(file), "--issuer-key", str(public)])
    assert done.exit_code == 1 and "不一致" in done.output and "another key" in done.output
    (tmp_path / "bad.pub").write_text("not a key", encoding="utf-8")
    done = runner.invoke(app, ["verify", str(file), "--issuer-key", str(tmp_path / "bad.pub")])
    assert done.exit_code == 2 and isinstance(done.exception, SystemExit)


def test_verify_of_a_missing_or_broken_file_is_no_traceback(tmp_path: Path) -> None:
    done = runner.invoke(app, ["verify", str(tmp_path / "nope.json")])
    assert done.exit_code == 2 and "No such file" in done.output
    assert isinstance(done.exception, SystemExit)  # a message, not a traceback
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    done = runner.invoke(app, ["verify", str(tmp_path / "bad.json")])
    assert done.exit_code == 2 and "not a JSON document" in done.output


def test_report_without_allure_renders_the_html_and_says_how_to_get_allure(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # neither allure nor npx
    done = runner.invoke(app, [str(folder)])
    assert done.exit_code == 1, done.output
    assert isinstance(done.exception, SystemExit)  # typer.Exit, not a traceback
    assert "npx --yes allure@3" in done.output and "npm install -g allure" in done.output
    assert "--no-allure" in done.output
    assert (folder / "report.html").is_file()
    done = runner.invoke(app, [str(folder), "--no-allure"])
    assert done.exit_code == 0, done.output


def test_report_runs_the_allure_it_finds(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in ``allure`` (Allure 3's options) on PATH: yidi asks for one offline file and strips the
    analytics script Allure 3 puts in it."""
    bin_dir, log = tmp_path / "bin", tmp_path / "argv.txt"
    bin_dir.mkdir()
    fake = bin_dir / "allure"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'if [ "$1" = "--version" ]; then echo 3.18.0; exit 0; fi\n'
        'out=$4; mkdir -p "$out"\n'
        "cat > \"$out/index.html\" <<'HTML'\n"
        '<html><body><div id="app"></div>\n'
        '<script async src="https://www.googletagmanager.com/gtag/js?id=G-X"></script>\n'
        "<script>\n  window.dataLayer = window.dataLayer || [];\n  gtag('js', new Date());\n</script>\n"
        "<script>window.allure = 1;</script></body></html>\nHTML\n",
        encoding="utf-8",
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    done = runner.invoke(app, [str(folder)])
    assert done.exit_code == 0, done.output
    argv = log.read_text(encoding="utf-8").splitlines()[-1].split()
    assert argv[:4] == ["awesome", str(folder / "allure-results"), "-o", str(folder / "allure-report")]
    assert "--single-file" in argv
    page = (folder / "allure-report" / "index.html").read_text(encoding="utf-8")
    assert "googletagmanager" not in page and "dataLayer" not in page and "window.allure = 1" in page
    assert (folder / "report.html").is_file()


def test_allure_2_is_asked_to_clean_its_folder() -> None:
    command = allure.Cli(("allure",), 2).generate(Path("r"), Path("o"), "x")
    assert command == ["allure", "generate", "r", "-o", "o", "--clean", "--single-file"]


def test_report_of_something_that_is_not_a_certify_folder(tmp_path: Path) -> None:
    done = runner.invoke(app, [str(tmp_path)])
    assert done.exit_code == 2 and "not a `yidi certify` folder" in done.output
    done = runner.invoke(app, [str(tmp_path / "missing")])
    assert done.exit_code == 2 and "no such folder" in done.output


def test_an_npx_that_cannot_fetch_allure_says_how_to_get_it(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No registry: npx fails, and the command says so and how to get Allure (no traceback)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npx = bin_dir / "npx"
    npx.write_text("#!/bin/sh\necho 'npm error code ENOTFOUND' >&2\nexit 1\n", encoding="utf-8")
    npx.chmod(npx.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir))
    done = runner.invoke(app, [str(folder)])
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit)
    assert "ENOTFOUND" in done.output and "npm install -g allure" in done.output
    assert (folder / "report.html").is_file()


def test_a_sparse_document_still_renders_and_says_what_is_wrong() -> None:
    """An old or hand-made document: the page still draws, and names what does not add up."""
    html = render({"verdict": "fail", "cases": [{"outcome": "error", "messages": [{"infno": "2304"}]}]})
    assert 'id="inconsistent"' in html and "format is None" in html
    assert "（无应答 no answer）" in html


def test_a_settlement_answer_is_explained_step_by_step() -> None:
    from yidi.reports.html import explained

    steps = "分类：医疗费总额10000.00 = …；起付线：本年起付线800，本次支付800.00；统筹：…"
    response = {
        "infcode": 0,
        "output": {"setldetail": [{"fund_pay_type": "310100", "setl_proc_info": steps}]},
    }
    assert [s.split("：")[0] for s in explained(response)] == ["分类", "起付线", "统筹"]
    assert explained({"infcode": 0, "output": {"result": []}}) == [] and explained(None) == []
