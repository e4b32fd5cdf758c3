"""The credential of a yidi server's admin endpoints (``/admin/…``: the roster with every secret, the clock,
faults and mutants, prepayment funds), as a client presents it.

A server makes one when it starts, or takes one given (``yidi serve --admin-token``, or ``YIDI_ADMIN_TOKEN``),
and prints it to whoever started it; a client sends it as ``Authorization: Bearer TOKEN``. Commands that
reach a server by URL take ``--admin-token`` or read ``YIDI_ADMIN_TOKEN``.
"""

from __future__ import annotations

import hmac
import os
import secrets
import subprocess
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer

ENV = "YIDI_ADMIN_TOKEN"

AdminToken = Annotated[
    str | None,
    typer.Option(
        "--admin-token",
        envvar=ENV,
        show_default=False,
        help="The credential of the yidi server's /admin endpoints (yidi serve prints it).",
    ),
]


def new_token() -> str:
    """A fresh credential: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def given() -> str | None:
    """The credential in the environment (``YIDI_ADMIN_TOKEN``), if any."""
    return os.environ.get(ENV) or None


def headers(token: str | None = None) -> dict[str, str]:
    """The header that carries ``token`` (by default the environment's); none without a credential."""
    token = token or given()
    return {"authorization": f"Bearer {token}"} if token else {}


def presented(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (compared in constant time)."""
    scheme, _, value = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def wait_until_up(
    url: str,
    token: str | None,
    process: subprocess.Popen[bytes] | None = None,
    *,
    log: Path | None = None,
    seconds: float = 60,
) -> None:
    """Wait until the yidi server at ``url`` answers ``/admin/health``; RuntimeError (naming its log) if it
    does not in ``seconds``, or its ``process`` ends first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        try:
            httpx.get(f"{url}/admin/health", timeout=1, headers=headers(token)).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"the simulators at {url} did not start" + (f": see {log}" if log else ""))
