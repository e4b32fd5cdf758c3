"""A mistake on the command line, or a server that is not there, is one line and exit 2, never a
traceback (issue #20)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yidi import cli
from yidi.simulators.background import Served, free_port

runner = CliRunner()


def one_line_exit_2(*args: str) -> str:
    result = runner.invoke(cli.app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) <= 2 and "Traceback" not in result.output, result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize("command", ["example", "schema", "show"])
def test_an_unknown_transaction_is_named(command: str) -> None:
    assert "no transaction 9999 in spec V1.0" in one_line_exit_2("spec", command, "9999")


def test_an_unknown_role_is_named_with_the_roles_there_are() -> None:
    said = one_line_exit_2("spec", "list", "--role", "insurd")
    assert "no role insurd" in said and "insured" in said


def test_his_episode_without_a_server_or_with_an_unknown_person(served: Served) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    said = one_line_exit_2(
        "his", "episode", "--person", "P01", "--hospital", "H51010000001", "--url", nowhere
    )
    assert "no roster at" in said
    said = one_line_exit_2(
        *("his", "episode", "--person", "P99", "--hospital", "H51010000001", "--url", served.url),
        *("--admin-token", served.sim.admin_token),
    )
    assert "knows no person P99" in said


def test_load_against_no_server(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    said = one_line_exit_2("load", "--sut", nowhere, "--duration", "1", "--out", str(tmp_path))
    assert f"no roster at {nowhere}/admin/roster" in said


def test_a_bare_database_path_is_sqlite_and_a_wrong_url_is_one_line(tmp_path: Path) -> None:
    from yidi.simulators.store import Store, database_url

    assert database_url("state.db") == "sqlite:///state.db"
    assert database_url(str(tmp_path / "s.db")) == f"sqlite:///{tmp_path}/s.db"
    assert database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    store = Store(str(tmp_path / "bare.db"))
    store.close()
    assert (tmp_path / "bare.db").exists()
    said = one_line_exit_2("serve", "--db", "nosuch+driver://x/y", "--port", str(free_port()))
    assert "--db nosuch+driver://x/y" in said and "Can't load plugin" in said


def test_what_no_command_foresaw_is_one_line_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kw: object) -> None:
        raise RuntimeError("planted")

    monkeypatch.setattr("yidi.specs.cli.examples.request", broken)
    monkeypatch.setattr(sys, "argv", ["yidi", "spec", "example", "2304"])
    monkeypatch.delenv("YIDI_TRACEBACK", raising=False)
    with pytest.raises(SystemExit) as exit:
        cli.main()
    assert exit.value.code == 2
    assert capsys.readouterr().err == "yidi: RuntimeError: planted (YIDI_TRACEBACK=1 shows where)\n"


# ── output in a pipe, a file or a CI log: whole values, one row a line ──────


def test_the_roster_in_a_pipe_keeps_every_code_url_and_paasid_whole() -> None:
    result = runner.invoke(cli.app, ["roster", "--base-url", "http://yidi-platform.example.internal:18000"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "H51010000001" in line)
    assert "http://yidi-platform.example.internal:18000/gw/510000" in row and "his-h51010000001" in row
    assert "成都市第一人民医院" in row


def test_spec_list_in_a_pipe_is_one_line_per_transaction() -> None:
    from yidi.specs import loader

    result = runner.invoke(cli.app, ["spec", "list"])
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert len(rows) == len(loader.load().transactions), result.output
    assert any("Remote-patient clearing confirmation undo" in row for row in rows)


# ── the base URL a HIS is told ─────────────────────────────────────


def test_serve_tells_the_public_url_it_is_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self: None)  # what it would serve, not serving it
    result = runner.invoke(
        cli.app,
        [
            "serve",
            "--db",
            str(tmp_path / "s.db"),
            "--host",
            "0.0.0.0",
            "--public-url",
            "https://yb.example:9443/",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "hospitals → https://yb.example:9443/gw/510000/{infno}" in result.output
    assert "roster → https://yb.example:9443/admin/roster" in result.output


def test_a_platform_served_for_a_his_tells_the_public_url_and_still_answers_here(tmp_path: Path) -> None:
    import httpx

    from yidi.simulators.app import Options
    from yidi.simulators.background import serving

    options = Options(db=f"sqlite:///{tmp_path / 's.db'}")
    with serving(options, host="0.0.0.0", public_url="http://his-facing.example:18000") as served:
        roster = served.roster
        assert httpx.get(f"{served.url}/admin/health", headers=served.admin).status_code == 200
    gateways = {h["gateway"] for p in roster["provinces"] for h in p["hospitals"]}
    assert gateways and all(g.startswith("http://his-facing.example:18000/gw/") for g in gateways)
    assert served.url.startswith("http://127.0.0.1:")


def test_the_roster_and_the_his_commands_take_the_servers_url_from_yidi_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("YIDI_URL", "http://127.0.0.1:18123")
    result = runner.invoke(cli.app, ["roster"])
    assert "http://127.0.0.1:18123/gw/510000" in result.output and ":8000" not in result.output
    result = runner.invoke(cli.app, ["his", "card", "P01"])  # YIDI_URL: read from a server, none there
    assert result.exit_code == 2 and "no card reader at http://127.0.0.1:18123" in result.output
