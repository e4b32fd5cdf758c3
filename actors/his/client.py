"""One transaction as a HIS sends it: the envelope, the signature (x-tif), the regional profile on the
wire, the answer read back in the base spec's shapes; sign-in (9001), person info (1101), fee lines."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import httpx

from ...specs import envelope, examples, loader, transport
from ...specs.adapt import Adapter
from ...specs.model import Spec
from ...specs.money import wire
from ...world.clock import real_now
from .model import Episode, Hospital, LostAnswer, Refused, Reply, credential, msgids


class Answer(Protocol):
    """What ``HisClient.send`` reads of an HTTP answer (an ``httpx.Response``, or load.http's)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...  # read by lowercase names
    @property
    def content(self) -> bytes: ...
    def json(self) -> Any: ...


class Poster(Protocol):
    """How a HIS sends: an ``httpx.Client``, or geventhttpclient under Locust's users (load/http.py: a
    fraction of the CPU). Transport failures raise ``httpx.HTTPError``."""

    def post(self, url: str, *, json: Any, headers: Mapping[str, str]) -> Answer: ...
    def close(self) -> None: ...


class HisClient:
    def __init__(
        self,
        spec: Spec,
        hospital: Hospital,
        *,
        client: Poster | None = None,
        timeout: float = 30.0,
        opter: str = "0001",
        opter_name: str = "收费员甲",
        mutants: Collection[str] = (),
    ) -> None:
        # the HIS builds messages in the base spec's shapes and speaks ``spec`` (a regional profile)
        self.wire, self.spec, self.hospital = spec, loader.load(version=spec.version), hospital
        self.adapter = Adapter(self.spec, self.wire)
        self.client: Poster = client or httpx.Client(timeout=timeout)
        self.msgids = msgids(hospital.fixmedins_code)
        self.opter, self.opter_name = opter, opter_name
        self.sign_no = ""
        self.seq = 0
        # the platform's clock minus this machine's, as its answers state it (respond_time): the HIS stamps
        # the platform's time, as a HIS synchronised with its platform does, wherever a simulated one stands
        self.offset = timedelta(0)
        # his-role mutants (simulators/faults.py): this HIS deliberately wrong, for the his-role suites
        self.mutants = frozenset(mutants)

    def mutant(self, name: str) -> bool:
        return name in self.mutants

    def now(self) -> datetime:
        """The time this HIS stamps on messages (msgid, inf_time, admission, fees, discharge)."""
        return real_now() + self.offset

    def follow(self, respond_time: Any) -> None:
        """Set the HIS's clock to the platform's by an answer's respond_time (yyyyMMddHHmmss[SSS])."""
        text = str(respond_time or "")
        if len(text) < 14 or not text.isdigit():
            return
        try:  # the digits read directly: strptime costs a Locust user ~30 µs an answer
            digits = [int(text[a:b]) for a, b in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14))]
            platform = datetime(digits[0], digits[1], digits[2], digits[3], digits[4], digits[5])
        except ValueError:
            return
        millis = int(text[14:17]) if len(text) >= 17 else 0
        self.offset = platform + timedelta(milliseconds=millis) - real_now()

    # ── one transaction ────────────────────────────────────────────

    def message(
        self, infno: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "", msgid: str | None = None
    ) -> dict[str, Any]:
        now = self.now()
        if msgid is None and self.mutant("his-msgid-format"):  # the platform's inf_refmsgid form, not ours
            msgid = f"{self.hospital.admdvs}{self.msgids(now)[12:26]}{self.msgids(now)[26:]:0>10}"
        return envelope.request(
            self.wire,
            infno,
            self.adapter.to_wire(infno, "input", dict(input)),
            msgid=msgid or self.msgids(now),
            when=now,
            mdtrtarea_admvs=self.hospital.admdvs,
            insuplc_admdvs=insuplc_admdvs,
            recer_sys_code="LXXT" if _insutype(input) == "340" else "YBXT",
            infver=self.spec.version,
            opter_type="1",
            opter=self.opter,
            opter_name=self.opter_name,
            fixmedins_code=self.hospital.fixmedins_code,
            fixmedins_name=self.hospital.name,
            sign_no=self.sign_no,
        )

    def send(self, message: Mapping[str, Any], *, headers: Mapping[str, str] | None = None) -> Reply:
        infno, msgid = str(message["infno"]), str(message["msgid"])
        signed = (
            headers
            if headers is not None
            else transport.sign_headers(
                self.spec, self.hospital.paasid, self.hospital.secret, now=time.time()
            )
        )
        if headers is None and self.mutant("his-wrong-signature"):  # signed without the trailing timestamp
            signed = _short_signature(self.spec, signed, self.hospital.secret)
        if headers is None and self.mutant("his-uppercase-signature"):
            name = self.spec.transport["signature"]["headers"]["signature"]
            signed = {**signed, name: signed[name].upper()}
        tif = transport.tif_headers(self.spec, signed)
        started = time.perf_counter()
        try:
            r = self.client.post(f"{self.hospital.gateway}/{infno}", json=message, headers=dict(signed))
        except httpx.HTTPError as e:
            raise LostAnswer(infno, msgid, repr(e)) from e
        if r.status_code != 200:
            raise LostAnswer(infno, msgid, f"HTTP {r.status_code}")
        if r.headers.get("content-type", "").startswith("application/octet-stream"):  # 9102: the file itself
            seconds = time.perf_counter() - started
            answered = {"infcode": 0, "output": {}}
            return Reply(
                infno,
                msgid,
                dict(message),
                answered,
                seconds,
                file=r.content,
                headers=tif,
                size=len(r.content),
            )
        received = body = r.json()
        self.follow(body.get("respond_time"))
        if isinstance(body.get("output"), dict):  # read answers in the base spec's shapes
            body = {**body, "output": self.adapter.to_base(infno, "output", body["output"])}
        seconds = time.perf_counter() - started
        as_sent = received if body is not received else None
        return Reply(infno, msgid, dict(message), body, seconds, as_sent, headers=tif, size=len(r.content))

    def call(
        self,
        infno: str,
        input: Mapping[str, Any],
        *,
        insuplc_admdvs: str = "",
        check: bool = True,
        msgid: str | None = None,
    ) -> Reply:
        reply = self.send(self.message(infno, input, insuplc_admdvs=insuplc_admdvs, msgid=msgid))
        if check and not reply.ok:
            raise Refused(reply)
        return reply

    def node(self, infno: str, name: str, **values: Any) -> dict[str, Any]:
        """The spec's example of one input node, with these values set."""
        n = self.spec.transaction(infno).input[name]
        return {**examples.node(self.spec, n), **values}

    def visit_no(self, prefix: str) -> str:
        """The hospital's own visit number (住院号 ZY…, 门诊号 MZ…): unique per hospital."""
        return f"{prefix}{self.hospital.fixmedins_code[-5:]}{int(time.time() * 1000) % 10**8:08d}{self.seq}"

    # ── steps of an episode ────────────────────────────────────────

    def sign_in(self) -> str:
        reply = self.call("9001", {"signIn": self.node("9001", "signIn", opter_no=self.opter)})
        self.sign_no = reply.output["signinoutb"]["sign_no"]
        return self.sign_no

    def person_info(self, card: Mapping[str, Any], cert_type: str = "03") -> Reply:
        """1101 with what the card reader gave (see /cards/{key})."""
        data: dict[str, Any] = dict(
            zip(("mdtrt_cert_type", "mdtrt_cert_no"), credential(card, cert_type), strict=True)
        )
        if cert_type == "03" and not self.mutant("his-omits-card-sn"):  # the mutant drops the card's card_sn
            data["card_sn"] = card.get("card_sn")
        return self.call("1101", {"data": data})

    def fee_lines(
        self,
        infno: str,
        episode: Episode,
        items: Iterable[tuple[str, float, float]],
        *,
        sn_prefix: str,
        first: int = 0,
        **values: Any,
    ) -> list[dict[str, Any]]:
        """feedetail rows of 2301 / 2204, one per item (national code, quantity, unit price); the fee is
        quantity × price to the cent."""
        lines: list[dict[str, Any]] = []
        for code, cnt, pric in items:
            self.seq += 1
            lines.append(
                self.node(
                    infno,
                    "feedetail",
                    feedetl_sn=f"{sn_prefix}{self.seq:010d}{first + len(lines):04d}",
                    mdtrt_id=episode.mdtrt_id,
                    psn_no=episode.psn_no,
                    med_list_codg=code,
                    medins_list_codg=f"HOSP-{code}",
                    cnt=cnt,
                    pric=pric,
                    det_item_fee_sumamt=wire(Decimal(str(cnt)) * Decimal(str(pric))),
                    **values,
                )
            )
        return lines

    def reverse(self, episode: Episode, omsgid: str, oinfno: str, *, tolerate_nothing: bool = False) -> Reply:
        reply = self.call(
            "2601",
            {"data": {"psn_no": episode.psn_no, "omsgid": omsgid, "oinfno": oinfno}},
            insuplc_admdvs=episode.insuplc_admdvs,
            check=False,
        )
        if not reply.ok and not (tolerate_nothing and "E6002" in reply.err_msg):
            raise Refused(reply)
        episode.replies.append(reply)
        return reply

    def cancel_settlement(self, episode: Episode) -> Reply:
        assert episode.settlement is not None
        reply = self.call(
            "2305",
            {
                "data": {
                    "mdtrt_id": episode.mdtrt_id,
                    "setl_id": episode.settlement["setlinfo"][
                        "medins_setl_id" if self.mutant("his-cancel-by-medins-setl-id") else "setl_id"
                    ],
                    "psn_no": episode.psn_no,
                }
            },
            insuplc_admdvs=episode.insuplc_admdvs,
        )
        episode.replies.append(reply)
        return reply

    def totals(self, psn_no: str, insuplc_admdvs: str, cum_ym: str | None = None) -> Reply:
        """5206: the running totals for the year (累计类别 → 累计值) as the insured side keeps them."""
        data = {"psn_no": psn_no, **({"cum_ym": cum_ym} if cum_ym else {})}
        return self.call("5206", {"data": data}, insuplc_admdvs=insuplc_admdvs)

    def simple(self, episode: Episode, infno: str, **extra: Any) -> Reply:
        """A transaction whose input is just the visit: 2302 (feedetl_sn), 2404, 2405."""
        data = {"mdtrt_id": episode.mdtrt_id, "psn_no": episode.psn_no, **extra}
        reply = self.call(infno, {"data": data}, insuplc_admdvs=episode.insuplc_admdvs)
        episode.replies.append(reply)
        return reply


def _short_signature(spec: Spec, headers: Mapping[str, str], secret: str) -> dict[str, str]:
    """The his-wrong-signature mutant's headers: x-tif-signature = SHA-256(timestamp + secret + nonce)."""
    names = spec.transport["signature"]["headers"]
    text = f"{headers[names['timestamp']]}{secret}{headers[names['nonce']]}"
    return {**headers, names["signature"]: hashlib.sha256(text.encode()).hexdigest()}


def _insutype(input: Mapping[str, Any]) -> str | None:
    for node in input.values():
        if isinstance(node, Mapping) and "insutype" in node:
            return str(node["insutype"])
    return None
