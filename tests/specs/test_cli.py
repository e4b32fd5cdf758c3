from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate as validate_openapi
from typer.testing import CliRunner

from yidi.cli import app

runner = CliRunner()


def yidi(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["spec", *args], input=input)
    return result.exit_code, result.output


def test_list_shows_every_transaction_with_its_route() -> None:
    code, output = yidi("list", "--json")
    rows = {row["infno"]: row for row in json.loads(output)}
    assert code == 0 and rows["2304"]["route"] == ["his", "treatment"] and rows["Y2304"]["yidi"]
    code, output = yidi("list", "--role", "insured")
    assert code == 0 and "│ Y2304 " in output and "│ 2304 " not in output


def test_show_prints_the_field_table() -> None:
    code, output = yidi("show", "2304")
    assert code == 0
    for text in (
        "住院结算",
        "hospSettService/settV2",
        "medfee_sumamt",
        "医疗费总额",
        "数值型(16,2)",
        "setldetail[]",
    ):
        assert text in output
    assert yidi("show", "0000")[0] == 2


@pytest.fixture
def message_file(tmp_path: Path) -> Path:
    code, output = yidi("example", "2304")
    assert code == 0
    path = tmp_path / "m.json"
    path.write_text(output, encoding="utf-8")
    return path


def test_validate_exits_0_for_a_valid_message(message_file: Path) -> None:
    code, output = yidi("validate", str(message_file))
    assert code == 0 and "valid" in output


def test_validate_exits_1_and_prints_one_line_per_error_with_its_path(message_file: Path) -> None:
    message = json.loads(message_file.read_text(encoding="utf-8"))
    message["input"]["data"]["psn_setlway"] = "09"
    message["input"]["data"]["mdtrt_id"] = "x" * 31
    message_file.write_text(json.dumps(message), encoding="utf-8")
    code, output = yidi("validate", str(message_file))
    lines = [line for line in output.splitlines() if line.startswith("ERROR")]
    assert code == 1 and len(lines) == 2
    assert any("E1005 input.data.psn_setlway" in line for line in lines)
    assert any("E1003 input.data.mdtrt_id" in line for line in lines)
    code, output = yidi("validate", str(message_file), "--json")
    report = json.loads(output)
    assert (
        code == 1
        and not report["valid"]
        and {i["path"] for i in report["issues"]} == {"input.data.psn_setlway", "input.data.mdtrt_id"}
    )


def test_validate_strict_warns_without_failing(message_file: Path) -> None:
    message = json.loads(message_file.read_text(encoding="utf-8"))
    message["recer_admdvs"] = "440100"
    message_file.write_text(json.dumps(message), encoding="utf-8")
    code, output = yidi("validate", str(message_file), "--strict")
    assert code == 0 and "W1001 recer_admdvs" in output


def test_validate_reads_stdin_and_takes_a_profile() -> None:
    _, output = yidi("example", "2404", "--spec", "guangzhou")
    flat = json.loads(output)
    assert "mdtrt_id" in flat["input"]  # Guangzhou sends 2404's fields at the top of input
    assert yidi("validate", "-", "--profile", "guangzhou", input=output)[0] == 0
    assert yidi("validate", "-", input=output)[0] == 1


def test_validate_exits_2_for_unusable_input(tmp_path: Path) -> None:
    assert yidi("validate", "-", input="not json")[0] == 2
    assert yidi("validate", str(tmp_path / "missing.json"))[0] == 2
    assert yidi("validate", "-", input='{"infno": "0000"}')[0] == 2
    assert yidi("validate", "-", "--response", input="{}")[0] == 2  # a response needs --infno
    assert yidi("validate", "-", "--spec", "V9.9", input="{}")[0] == 2


def test_a_response_validates_with_its_infno() -> None:
    _, output = yidi("example", "2304", "--response")
    assert yidi("validate", "-", "--response", "--infno", "2304", input=output)[0] == 0


def test_openapi_writes_a_valid_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    code, _ = yidi("openapi", "-o", str(target), "--addressing", "both", "--server", "http://sut:9000/gw")
    doc = json.loads(target.read_text(encoding="utf-8"))
    validate_openapi(doc)
    assert code == 0 and doc["servers"][0]["url"] == "http://sut:9000/gw"


def test_diff_exits_1_on_breaking_changes_and_0_otherwise() -> None:
    code, output = yidi("diff", "V1.0", "V1.1", "--json")
    result = json.loads(output)
    assert code == 1 and result["breaking"] >= 4 and "2401" in result["affected"]
    assert yidi("diff", "V1.1", "V1.1")[0] == 0


def test_schema_and_check() -> None:
    code, output = yidi("schema", "2304", "--response")
    assert code == 0 and json.loads(output)["title"] == "2304 住院结算 应答"
    code, output = yidi("check")
    assert code == 0 and "V1.1+guangzhou" in output
