"""Compile the spec into JSON Schema (draft 2020-12), one schema per transaction and direction.

Real traffic decides the shape: optional fields may be absent, ``null`` or ``""``; regional fields
beyond the spec pass (strict mode reports them); ``infcode`` comes as number or string; amounts may
be negative (cancellations). Each field schema carries annotations (``title`` = 中文名, ``x-form``,
``x-code`` …) so that an error can be explained from its schema path alone.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from .model import Direction, Field, Form, Node, Spec, Transaction

DATE = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
EXPECTED = {"date": "yyyy-MM-dd", "datetime": "yyyy-MM-dd HH:mm:ss"}
SUCCESS = {"properties": {"infcode": {"enum": [0, "0"]}}, "required": ["infcode"]}

Schema = dict[str, Any]


def _number_pattern(form: Form) -> str:
    whole = (form.length or 16) - form.scale
    frac = rf"(\.[0-9]{{1,{form.scale}}})?" if form.scale else ""
    return rf"-?[0-9]{{1,{whole}}}{frac}"


def _form_schema(form: Form) -> Schema:
    """The wire constraints of a form, for a present, non-empty value."""
    if form.kind == "char":
        return {"type": "string", "maxLength": form.length}
    if form.kind == "num":
        bound = 10 ** ((form.length or 16) - form.scale)
        # integers too are "number" + multipleOf, so 1.5 reads as too precise, not as the wrong type
        return {
            "type": "number",
            "multipleOf": 10**-form.scale if form.scale else 1,
            "exclusiveMaximum": bound,
            "exclusiveMinimum": -bound,
        }
    if form.kind in EXPECTED:
        return {"type": "string", "pattern": f"^{DATE}{' ' + TIME if form.kind == 'datetime' else ''}$"}
    if form.kind == "bytes":
        return {"type": ["string", "array"], "items": {"type": "integer", "minimum": -128, "maximum": 255}}
    return {"type": ["string", "object", "array"]}  # json


def _pattern_alternatives(values: list[str], local: str | None) -> str:
    alternatives = "|".join(re.escape(v) for v in values)
    return f"^(?:{alternatives})$" + (f"|{local}" if local else "")


def field_schema(spec: Spec, f: Field, *, strict: bool = False, required: bool | None = None) -> Schema:
    """The schema of one field; ``required`` overrides the field's own flag (conditions, envelopes)."""
    required = f.required if required is None else required
    s = _form_schema(f.form)
    s["title"] = f.zh
    s["x-form"] = str(f.form)
    if f.form.kind in EXPECTED:
        s["x-expected"] = EXPECTED[f.form.kind]
    if f.format:
        fmt = spec.formats[f.format]
        s["pattern"] = fmt.pattern
        s["x-expected"] = fmt.zh
    if f.code:
        table = spec.codes[f.code]
        s["x-code"] = table.name
        if table.closed or strict:
            s["pattern"] = _pattern_alternatives(list(table.values), table.local)
            if not table.closed:
                s["x-open-code"] = True  # strict only: reported as a warning
    if "string" in f.wire and f.form.kind == "num":
        s["type"] = ["number", "string"]
        s["pattern"] = f"^{_number_pattern(f.form)}$"
    if required:
        if s.get("type") == "string":
            s["minLength"] = 1
        return s
    # Optional: absent, null, or "" (clients that default every field to an empty string).
    types = s.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    s["type"] = [*types, "null"] + ([] if "string" in types else ["string"])
    if "pattern" in s:
        s["pattern"] = f"^$|{s['pattern']}"
    elif "string" not in types:
        s["pattern"] = "^$"  # a string is allowed only as the empty string
    return s


def _object_schema(spec: Spec, fields: Mapping[str, Field], *, strict: bool) -> Schema:
    s: Schema = {
        "type": "object",
        "properties": {n: field_schema(spec, f, strict=strict) for n, f in fields.items()},
        "required": [n for n, f in fields.items() if f.required],
    }
    conditions = [
        {
            "if": {
                "properties": {k: {"const": v} for k, v in f.required_when.items()},
                "required": list(f.required_when),
            },
            "then": {"properties": {n: field_schema(spec, f, strict=strict, required=True)}, "required": [n]},
            "x-when": f.when_text,
        }
        for n, f in fields.items()
        if f.required_when
    ]
    if conditions:
        s["allOf"] = conditions
    if strict:
        s["additionalProperties"] = False
    return s


def node_schema(spec: Spec, node: Node, *, strict: bool = False, min_one: bool = False) -> Schema:
    obj = _object_schema(spec, node.fields, strict=strict)
    obj["title"] = node.name
    if not node.array:
        return obj
    return {"type": "array", "items": obj, "title": node.label, **({"minItems": 1} if min_one else {})}


def _body_schema(spec: Spec, txn: Transaction, direction: Direction, *, strict: bool) -> Schema:
    """The schema of ``input`` or ``output``: named nodes, or fields directly under it (flat nodes)."""
    nodes = txn.nodes(direction)
    s: Schema = {"type": "object", "properties": {}, "required": [], "title": direction}
    conditions: list[Schema] = []
    for node in nodes.values():
        if node.flat:
            flat = _object_schema(spec, node.fields, strict=False)
            s["properties"].update(flat["properties"])
            s["required"] += flat["required"]
            conditions += flat.get("allOf", [])
        else:
            s["properties"][node.name] = node_schema(
                spec, node, strict=strict, min_one=direction == "input" and not node.optional
            )
            if not node.optional:
                s["required"].append(node.name)
    if conditions:
        s["allOf"] = conditions
    if strict:
        s["additionalProperties"] = False
    return s


def request_schema(spec: Spec, infno: str, *, strict: bool = False) -> Schema:
    txn = spec.transaction(infno)
    props: dict[str, Schema] = {}
    required: list[str] = []
    for name, f in spec.request.items():
        need = f.required or bool(f.required_if_input_has and txn.has_input_field(f.required_if_input_has))
        props[name] = field_schema(spec, f, strict=strict, required=need)
        if need:
            required.append(name)
    props["infno"] = {**props["infno"], "const": txn.infno}
    props["input"] = _body_schema(spec, txn, "input", strict=strict)
    required.append("input")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{txn.infno} {txn.zh} 请求",
        "type": "object",
        "properties": props,
        "required": required,
        **({"additionalProperties": False} if strict else {}),
    }


def response_schema(spec: Spec, infno: str, *, strict: bool = False) -> Schema:
    """The response envelope: ``output`` as the transaction defines it on success, ``err_msg`` otherwise."""
    txn = spec.transaction(infno)
    props = {n: field_schema(spec, f, strict=strict, required=f.required) for n, f in spec.response.items()}
    needs_err = [n for n, f in spec.response.items() if f.required_unless_success]
    if txn.output:
        success: Schema = {
            "properties": {"output": _body_schema(spec, txn, "output", strict=strict)},
            "required": ["output"],
            "x-when": "infcode=0",
        }
    else:  # no output fields: {} or null; Guangzhou answers a bare string
        success = {"properties": {"output": {"type": ["object", "null", "string"], "title": "output"}}}
    failure: Schema = {
        "properties": {n: field_schema(spec, spec.response[n], required=True) for n in needs_err},
        "required": needs_err,
        "x-when": "infcode≠0",
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{txn.infno} {txn.zh} 应答",
        "type": "object",
        "properties": props,
        "required": [n for n, f in spec.response.items() if f.required],
        "if": SUCCESS,
        "then": success,
        "else": failure,
        **({"unevaluatedProperties": False} if strict else {}),
    }


def schema(
    spec: Spec, infno: str, *, response: bool = False, strict: bool = False, fast: bool = False
) -> Schema:
    """The compiled schema, built once per spec and kept (the hot path never rebuilds it).

    ``fast`` leaves out fractional ``multipleOf``: jsonschema-rs checks it exactly but at about 2 µs a
    value, most of a message's cost; :func:`scale_check` does the same job in a tenth of the time.
    """
    key = ("schema", infno, response, strict, fast)
    if key not in spec.cache:
        if fast:
            spec.cache[key] = _without_fractional_multiple_of(
                schema(spec, infno, response=response, strict=strict)
            )
        else:
            build = response_schema if response else request_schema
            spec.cache[key] = build(spec, infno, strict=strict)
    return spec.cache[key]  # type: ignore[no-any-return]


def _without_fractional_multiple_of(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _without_fractional_multiple_of(v)
            for k, v in node.items()
            if not (k == "multipleOf" and v != 1)
        }
    if isinstance(node, list):
        return [_without_fractional_multiple_of(v) for v in node]
    return node


ScaleCheck = Callable[[Mapping[str, Any]], bool]


def scale_check(spec: Spec, infno: str, *, response: bool = False) -> ScaleCheck:
    """True when no number in the message has more decimals than its field allows.

    ``x == round(x, s)`` is exact for binary floats (round goes through the shortest repr), so
    0.07 passes and 0.071 does not. The check is generated as one flat function per transaction.
    """
    key = ("scale", infno, response)
    if key not in spec.cache:
        direction: Direction = "output" if response else "input"
        lines = [
            "def check(message):",
            f"    body = message.get({direction!r})",
            "    if body.__class__ is not dict: return True",
        ]
        for node in spec.transaction(infno).nodes(direction).values():
            fields = [
                (f.name, f.form.scale) for f in node.fields.values() if f.form.kind == "num" and f.form.scale
            ]
            if not fields:
                continue
            lines.append(
                "    objs = (body,)"
                if node.flat
                else f"    objs = body.get({node.name!r}); objs = objs if objs.__class__ is list else (objs,)"
            )
            lines += ["    for o in objs:", "        if o.__class__ is not dict: continue"]
            for name, places in fields:
                lines += [
                    f"        x = o.get({name!r})",
                    f"        if x.__class__ is float and x != round(x, {places}): return False",
                ]
        lines.append("    return True")
        namespace: dict[str, Any] = {
            "__builtins__": {"round": round, "float": float, "dict": dict, "list": list}
        }
        exec(compile("\n".join(lines), f"<scale {infno}>", "exec"), namespace)
        spec.cache[key] = namespace["check"]
    return spec.cache[key]  # type: ignore[no-any-return]


Where = tuple[str | int, ...]
CalendarCheck = Callable[[Mapping[str, Any]], list[Where]]


@functools.lru_cache(maxsize=8192)  # a day's messages share a few dates: most calls are hits
def real_day(text: str) -> bool:
    """``yyyy-MM-dd…`` names a day of the calendar (the pattern lets 2023-02-30 and 0000-01-01 through)."""
    try:
        date(int(text[:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        return False
    return True


def calendar_check(spec: Spec, infno: str, *, response: bool = False) -> CalendarCheck:
    """Where a date or date-time field of the message names no real day, as paths (empty: none).

    Runs after the schema: the form's pattern has checked the digits, so only the day is in question.
    """
    key = ("calendar", infno, response)
    if key not in spec.cache:
        direction: Direction = "output" if response else "input"
        envelope = [
            n for n, f in (spec.response if response else spec.request).items() if f.form.kind in EXPECTED
        ]
        nodes = [
            (node.name, node.flat, [n for n, f in node.fields.items() if f.form.kind in EXPECTED])
            for node in spec.transaction(infno).nodes(direction).values()
        ]
        nodes = [n for n in nodes if n[2]]

        def check(message: Mapping[str, Any]) -> list[Where]:
            bad: list[Where] = [(n,) for n in envelope if not _day_or_blank(message.get(n))]
            body = message.get(direction)
            if body.__class__ is not dict or not nodes:
                return bad
            for name, flat, fields in nodes:
                objs = body if flat else body.get(name)
                rows = enumerate(objs) if objs.__class__ is list else ((None, objs),)
                for i, o in rows:
                    if o.__class__ is dict:
                        where = (
                            (direction,) if flat else (direction, name) if i is None else (direction, name, i)
                        )
                        bad += [(*where, n) for n in fields if not _day_or_blank(o.get(n))]
            return bad

        spec.cache[key] = check
    return spec.cache[key]  # type: ignore[no-any-return]


def _day_or_blank(value: Any) -> bool:
    return value.__class__ is not str or len(value) < 10 or real_day(value)
