"""``yidi his episode``: a chosen stay (person, hospital, fee lines or a bill preset) run against a served
platform, and its settlement explained step by step."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from yidi.cli import app
from yidi.simulators.background import Served

runner = CliRunner()


def episode(served: Served, *args: str) -> str:
    result = runner.invoke(
        app,
        ["his", "episode", "--url", served.url, "--admin-token", served.sim.admin_token, *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_chosen_fee_lines_are_what_is_billed_and_the_steps_are_explained(served: Served) -> None:
    out = episode(
        served,
        "--person", "P12", "--hospital", "H51010000001",
        "--item", "003311050020000:1:2000", "--item", "001101000010000:10",
    )  # fmt: skip
    # 2000 surgery + 10 days of a bed at 50, capped at 60 in Sichuan's catalog: 2500 in all
    assert re.search(r"医疗费总额2500\.00 = ", out), out
    steps = [line for line in out.splitlines() if re.match(r"\s+\d+\. ", line)]
    assert [s.split(". ", 1)[1].split("：")[0] for s in steps] == [
        "分类",
        "起付线",
        "统筹",
        "统筹",
        "个人负担",
    ]
    assert "medfee_sumamt" in out and "2,500.00" in out


def test_a_large_bill_passes_the_cap_and_the_explanation_says_so(served: Served) -> None:
    out = episode(served, "--person", "P06", "--hospital", "H61010000001", "--bill", "large")
    assert "达年度限额" in out and "330100" in out  # the pooled fund capped, the large-amount fund pays above


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--person", "P12", "--hospital", "H51010000001", "--item", "NOPE:1"], "is not in the world's"),
        (["--person", "P12", "--hospital", "H51010000001", "--bill", "huge"], "is not one of small"),
        (["--person", "P12", "--hospital", "H99999999999"], "no hospital H99999999999 in the world"),
    ],
)
def test_a_wrong_choice_is_one_line_and_exit_2(served: Served, args: list[str], said: str) -> None:
    result = runner.invoke(
        app, ["his", "episode", "--url", served.url, "--admin-token", served.sim.admin_token, *args]
    )
    assert result.exit_code == 2 and said in result.output, result.output


def test_without_the_admin_credential_the_roster_is_not_given(served: Served) -> None:
    args = ["his", "episode", "--url", served.url, "--person", "P12", "--hospital", "H51010000001"]
    result = runner.invoke(app, args, env={"YIDI_ADMIN_TOKEN": ""})
    assert result.exit_code == 2 and "401" in result.output and "secret" not in result.output


def test_his_card_reads_the_served_card_with_url(served: Served) -> None:
    import json

    result = runner.invoke(app, ["his", "card", "P12", "--url", served.url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == served.card("P12")
    result = runner.invoke(app, ["his", "card", "P99", "--url", served.url])
    assert result.exit_code == 2 and "knows no person P99" in result.output
