"""Gateway security (网关安全) cases against a treatment-province platform."""

from __future__ import annotations

import time

from yidi.specs import transport
from yidi.suites.plugin import Sut, case
from yidi.suites.steps import fail, refused


@case("JT-SEC-002")
def test_a_wrong_signature_is_refused_and_changes_nothing(sut: Sut) -> None:
    his = sut.his("H50000000001")
    hospital = sut.hospital("H50000000001")
    message = his.message("9001", {"signIn": his.node("9001", "signIn", opter_no=his.opter)})
    forged = {
        **transport.sign_headers(sut.spec, hospital.paasid, hospital.secret, now=time.time()),
        "x-tif-signature": "0" * 64,
    }
    reply = refused(lambda: his.send(message, headers=forged), "E2002", "R-SEC-02")
    if reply.infcode != -1:
        fail(
            f"签名错误应答infcode应为-1，实际{reply.infcode}",
            expected={"infcode": -1},
            actual={"infcode": reply.infcode},
        )
    again = his.send(message)  # properly signed, same msgid: the forged one must have left no trace
    if not again.ok:
        fail(
            f"【9001】{again.msgid} 正确签名重发同一msgid应成功（错签报文不留记录），实际{again.err_msg}",
            expected={"infcode": 0},
            actual={"infcode": again.infcode, "err_msg": again.err_msg},
        )
