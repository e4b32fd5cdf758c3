"""Schemathesis hooks for running its own CLI against ``yidi serve`` (or any platform that speaks the spec):
each generated message is signed (x-tif headers) by the account the node takes messages from, and gets a
msgid of that sender, its sign-in and its infno, so that it reaches the handlers and not only the
gateway's checks. A check fails any answer that is an internal error (E6009), whatever its HTTP status.

    yidi serve &
    yidi spec openapi --node gw/510000 -o gw.json
    SCHEMATHESIS_HOOKS=yidi.suites.schemathesis_hooks st run gw.json --checks not_a_server_error,...

Configuration (environment): ``YIDI_ROSTER``, a roster file with the credentials (``yidi roster --json``);
else ``YIDI_URL`` (default http://127.0.0.1:8000), whose ``/admin/roster`` is read. ``YIDI_HOSPITAL``:
the hospital that signs messages to a gateway (default: the gateway's first).
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import schemathesis

from ..actors.his import His, Hospital
from ..specs import envelope, loader, transport
from ..specs.model import Spec
from ..world.clock import real_now


@functools.cache
def roster() -> dict[str, Any]:
    path = os.environ.get("YIDI_ROSTER")
    if path:
        loaded: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
        return loaded
    url = os.environ.get("YIDI_URL", "http://127.0.0.1:8000").rstrip("/")
    fetched: dict[str, Any] = httpx.get(f"{url}/admin/roster", timeout=30).raise_for_status().json()
    return fetched


@functools.cache
def spec() -> Spec:
    return loader.load(roster().get("spec"))


@functools.cache
def msgids(code: str) -> envelope.MsgIds:
    return envelope.MsgIds(code)


@functools.cache
def sign_no(code: str) -> str:
    """The hospital's sign-in (9001), made once."""
    return His(spec(), hospital(code)).sign_in()


def hospital(code: str) -> Hospital:
    entry = next(h for p in roster()["provinces"] for h in p["hospitals"] if h["fixmedins_code"] == code)
    return Hospital.from_roster(entry)


def sender(url: str) -> tuple[dict[str, str], bool]:
    """The account (code, paasid, secret) that sends to the node at ``url``, and whether it is a HIS."""
    parts = urlsplit(url).path.strip("/").split("/")
    kind = next((p for p in parts if p in ("gw", "hub", "prov")), "gw")
    provinces = roster()["provinces"]
    if kind == "gw":
        admdvs = parts[parts.index("gw") + 1] if len(parts) > parts.index("gw") + 1 else ""
        hospitals = [h for p in provinces if p["admdvs"] == admdvs for h in p["hospitals"]] or [
            h for p in provinces for h in p["hospitals"]
        ]
        chosen = os.environ.get("YIDI_HOSPITAL")
        entry = next((h for h in hospitals if h["fixmedins_code"] == chosen), hospitals[0])
        return {"code": entry["fixmedins_code"], "paasid": entry["paasid"], "secret": entry["secret"]}, True
    if kind == "hub":  # a province's platform speaks to the hub
        return dict(provinces[0]["platform"]), False
    return dict(roster()["hub"]), False  # the hub speaks to an insured platform


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    base = str(kwargs.get("base_url") or case.operation.base_url or "")
    account, his = sender(base)
    infno = case.operation.path.strip("/").rsplit("/", 1)[-1]
    if isinstance(case.body, dict):
        case.body.update(fixmedins_code=account["code"], msgid=msgids(account["code"])(real_now()))
        if infno in spec().transactions:
            case.body["infno"] = infno
        if his:
            case.body["sign_no"] = sign_no(account["code"])
    headers = transport.sign_headers(spec(), account["paasid"], account["secret"], now=time.time())
    case.headers = {**(case.headers or {}), **headers}


@schemathesis.check
def no_internal_error(ctx: Any, response: Any, case: Any) -> None:
    """An E6009 is the gateway catching a handler that broke: a crash, whatever the HTTP status."""
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict) and str(body.get("err_msg") or "").startswith("[E6009]"):
        raise AssertionError(f"internal error answered: {body['err_msg']}")
