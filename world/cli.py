"""``yidi roster``: the world as a test team is told it (regions, hospitals with their gateways and
credentials, every test person)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..specs import loader
from ..specs.console import console as rich_console
from . import topology as topology_module
from .roster import roster

out = rich_console()

# The one option every command takes for the world it runs on (``--topology``: its former name)
WorldFile = Annotated[
    Path | None,
    typer.Option(
        "--world", "-w", "--topology", help="The world file (world/README.md); default: the embedded one."
    ),
]


def roster_command(
    world: WorldFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable, with credentials.")] = False,
    base_url: Annotated[
        str,
        typer.Option(
            envvar="YIDI_URL", help="Where the simulators are served (yidi serve prints it: YIDI_URL=…)."
        ),
    ] = "http://127.0.0.1:8000",
) -> None:
    """What a tester needs: regions, hospitals (gateway, paasid, secret) and every test person."""
    data = roster(topology_module.load(world), base_url, loader.load().ref)
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    hospitals = Table(title="定点医药机构 hospitals", title_justify="left")
    for column in ("province", "fixmedins_code", "name", "hosp_lv", "admdvs", "gateway", "paasid"):
        hospitals.add_column(column, no_wrap=True)
    for p in data["provinces"]:
        for h in p["hospitals"]:
            hospitals.add_row(
                p["name"],
                h["fixmedins_code"],
                h["name"],
                h["hosp_lv"],
                h["admdvs"],
                h["gateway"],
                h["paasid"],
            )
    out.print(hospitals)
    persons = Table(title="测试人员 test persons (真人真卡)", title_justify="left")
    for column in ("key", "name", "insured", "insutype", "psn_type", "card", "scenario"):
        persons.add_column(column, no_wrap=column != "scenario", overflow="fold")
    for person in data["persons"]:
        card = person["card"]["cardno"] + (
            "" if person["card"]["status"] == "1" else f" (状态{person['card']['status']})"
        )
        persons.add_row(
            person["key"],
            person["name"],
            person["insuplc_admdvs"],
            person["insutype"],
            person["psn_type"],
            card,
            person["scenario"],
        )
    out.print(persons)
    if data.get("crowd"):
        keys = [p["key"] for p in data["crowd"]]
        out.print(f"压力测试人员 load crowd: {len(keys)} persons ({keys[0]}–{keys[-1]}), listed by --json")
