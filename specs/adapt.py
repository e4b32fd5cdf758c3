"""Regional drift at the edge: a node speaks its profile on the wire (Guangzhou's ``mdtrtinfo``, fields
flattened into ``input`` …; Zhuhai's fund_pay_sumamt counting the personal account) while its handlers see
the base spec's shapes and meanings only.

Nodes pair by name, else by identical field sets (a rename); a flat node's fields sit in the body itself.
"""

from __future__ import annotations

from typing import Any

from .model import Node, Spec


def _pairs(base: dict[str, Node], wire: dict[str, Node]) -> list[tuple[Node, Node]]:
    pairs = []
    for name, node in base.items():
        match = wire.get(name) or next((w for w in wire.values() if set(w.fields) == set(node.fields)), None)
        if match is not None:
            pairs.append((node, match))
    return pairs


ACCT_IN_FUND = "fund_pay_sumamt_includes_acct_pay"


def _moved_account(body: dict[str, Any], sign: int) -> dict[str, Any]:
    """Every settlement row of an answer with acct_pay moved into (sign 1) or out of (-1) fund_pay_sumamt."""

    def row(r: Any) -> Any:
        if not (
            isinstance(r, dict) and "fund_pay_sumamt" in r and isinstance(r.get("acct_pay"), int | float)
        ):
            return r
        return {**r, "fund_pay_sumamt": round(float(r["fund_pay_sumamt"]) + sign * r["acct_pay"], 2)}

    moved = {k: [row(r) for r in v] if isinstance(v, list) else row(v) for k, v in body.items()}
    return row(moved)  # type: ignore[no-any-return]


class Adapter:
    def __init__(self, base: Spec, wire: Spec) -> None:
        self.identity = base is wire or base.ref == wire.ref
        self.acct_in_fund = bool(wire.semantics.get(ACCT_IN_FUND)) and not base.semantics.get(ACCT_IN_FUND)
        self.plan = (
            {}
            if self.identity
            else {
                (infno, direction): [
                    (b, w)
                    for b, w in _pairs(
                        dict(t.nodes(direction)), dict(wire.transactions[infno].nodes(direction))
                    )
                    if (b.name, b.flat) != (w.name, w.flat)
                ]
                for infno, t in base.transactions.items()
                if infno in wire.transactions
                for direction in ("input", "output")
            }
        )

    def to_base(self, infno: str, direction: str, body: Any) -> Any:
        if self.identity:  # the usual case, on every message
            return body
        if self.acct_in_fund and direction == "output" and isinstance(body, dict):
            body = _moved_account(body, -1)
        changes = self.plan.get((infno, direction))
        if not changes or not isinstance(body, dict):
            return body
        out = dict(body)
        for base, wire in changes:
            if wire.flat:
                out[base.name] = {k: out.pop(k) for k in list(out) if k in wire.fields}
            elif wire.name in out:
                out[base.name] = out.pop(wire.name)
        return out

    def to_wire(self, infno: str, direction: str, body: Any) -> Any:
        if self.identity:  # the usual case, on every message
            return body
        if self.acct_in_fund and direction == "output" and isinstance(body, dict):
            body = _moved_account(body, 1)
        changes = self.plan.get((infno, direction))
        if not changes or not isinstance(body, dict):
            return body
        out = dict(body)
        for base, wire in changes:
            value = out.pop(base.name, None)
            if wire.flat and isinstance(value, dict):
                out.update(value)
            elif value is not None:
                out[wire.name] = value
        return out
