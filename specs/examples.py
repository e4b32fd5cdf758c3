"""Sample messages derived from the spec: every field's example from the dictionary, shaped by the
transaction's nodes. Used by ``yidi spec example``, by the tests, and as the starting point of a
message a suite or a load user fills in (so no message shape is written twice by hand).
"""

from __future__ import annotations

from typing import Any

from .model import Direction, Field, Node, Spec
from .rules import names_read

_DEFAULTS = {"date": "2026-11-01", "datetime": "2026-11-01 08:00:00", "json": "", "bytes": ""}


def value(spec: Spec, f: Field) -> Any:
    """A valid value for a field: its example, else the first code, else one shaped by its form."""
    if f.example is not None:
        return f.example
    if f.code and spec.codes[f.code].values:
        return next(iter(spec.codes[f.code].values))
    if f.form.kind == "num":
        return 0.0 if f.form.scale else 0
    if f.form.kind == "char":
        return "示例"[: f.form.length] if (f.form.length or 0) >= 2 else "1"
    return _DEFAULTS[f.form.kind]


def node(spec: Spec, n: Node, *, full: bool = False, needed: frozenset[str] = frozenset()) -> dict[str, Any]:
    """One object of a node: required fields, the ``needed`` ones (read by a rule), conditional ones
    whose condition holds, and (``full``) every optional field that has an example."""
    obj = {
        name: value(spec, f)
        for name, f in n.fields.items()
        if f.required or name in needed or (full and f.example is not None)
    }
    for name, f in n.fields.items():
        if f.required_when and all(obj.get(k) == v for k, v in f.required_when.items()):
            obj.setdefault(name, value(spec, f))
    return obj


def body(spec: Spec, infno: str, direction: Direction, *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in spec.transaction(infno).nodes(direction).values():
        obj = node(spec, n, full=full, needed=names_read(spec, infno, direction, n.name))
        if n.flat:
            out.update(obj)
        else:
            out[n.name] = [obj] if n.array else obj
    return out


def request(spec: Spec, infno: str, *, full: bool = True, **envelope: Any) -> dict[str, Any]:
    msg = {name: value(spec, f) for name, f in spec.request.items()}
    msg.update(infno=infno, input=body(spec, infno, "input", full=full), **envelope)
    return msg


def response(spec: Spec, infno: str, *, full: bool = True, **envelope: Any) -> dict[str, Any]:
    msg = {name: value(spec, f) for name, f in spec.response.items() if f.example is not None}
    msg.update(output=body(spec, infno, "output", full=full), **envelope)
    return msg
