"""The baseline: an ASGI endpoint that only parses the JSON body and answers a JSON envelope."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def answer(request: Request) -> JSONResponse:
    message = json.loads(await request.body())
    return JSONResponse(
        {
            "infcode": 0,
            "inf_refmsgid": "510000202611230900000000000001",
            "err_msg": None,
            "output": {"echo": message.get("msgid")},
        }
    )


app = Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])])
