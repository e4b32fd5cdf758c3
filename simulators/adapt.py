"""Regional drift at the edge: a node speaks its profile on the wire (Guangzhou's ``mdtrtinfo``, fields
flattened into ``input`` …) while its handlers see the base spec's shapes only.

Nodes pair by name, else by identical field sets (a rename); a flat node's fields sit in the body itself.
"""

from __future__ import annotations

from typing import Any

from yidi.specs.model import Node, Spec


def _pairs(base: dict[str, Node], wire: dict[str, Node]) -> list[tuple[Node, Node]]:
    pairs = []
    for name, node in base.items():
        match = wire.get(name) or next((w for w in wire.values() if set(w.fields) == set(node.fields)), None)
        if match is not None:
            pairs.append((node, match))
    return pairs


class Adapter:
    def __init__(self, base: Spec, wire: Spec) -> None:
        self.identity = base is wire or base.ref == wire.ref
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
