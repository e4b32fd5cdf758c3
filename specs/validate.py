"""Validate one message against the spec: its schema, then its message rules.

The hot path is one ``is_valid`` call of a cached jsonschema-rs validator plus a decimal-scale check
(see bench/validation.py for the figures); only a failing message pays for explaining itself, with
the full schema. Every
problem becomes an :class:`Issue` that names the JSON path, the field's Chinese name, the rule and
the expected form, in Chinese and English, with the error-catalogue code and its infcode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema_rs

from . import loader
from .compiler import EXPECTED, Where, calendar_check, scale_check, schema
from .model import Field, Spec
from .rules import check_message

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    code: str  # error-catalogue code: E1003 …
    path: str  # JSON path: input.feedetail[3].cnt
    zh: str
    en: str
    rule: str  # business rule ID: R-ENV-01 …
    infcode: int
    severity: Severity = "error"
    expected: str = ""

    @property
    def err_msg(self) -> str:
        """The platform-style message for a response's ``err_msg`` (char(200))."""
        return f"[{self.code}]{self.zh}"[:200]

    def __str__(self) -> str:
        return f"{self.code} {self.path or '$'}: {self.zh}"


@dataclass
class Report:
    infno: str | None
    response: bool
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def valid(self) -> bool:
        return not self.issues or not self.errors


def format_path(parts: Iterable[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _walk(node: Any, path: Sequence[str | int]) -> Any:
    for p in path:
        node = node[p]
    return node


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def validator(
    spec: Spec, infno: str, *, response: bool = False, strict: bool = False, fast: bool = False
) -> Any:
    """The compiled jsonschema-rs validator for a transaction and direction (built once per spec)."""
    key = ("validator", infno, response, strict, fast)
    if key not in spec.cache:
        spec.cache[key] = jsonschema_rs.validator_for(
            schema(spec, infno, response=response, strict=strict, fast=fast)
        )
    return spec.cache[key]


class _Explainer:
    """Turns jsonschema-rs errors into Issues, reading the field's annotations from the schema."""

    def __init__(self, spec: Spec, schema_doc: Mapping[str, Any], message: Any) -> None:
        self.spec, self.schema, self.message = spec, schema_doc, message

    def issue(
        self, error_code: str, path: Sequence[str | int], fschema: Mapping[str, Any], **values: Any
    ) -> Issue:
        err = self.spec.errors[error_code]
        code = f"代码表{fschema['x-code']}" if "x-code" in fschema else None
        expected = "、".join(p for p in (fschema.get("x-form"), code, fschema.get("x-expected")) if p)
        dotted = format_path(path)
        values = {
            "path": dotted or "报文",
            "name": fschema.get("title", str(path[-1]) if path else "报文"),
            "form": fschema.get("x-form", ""),
            "expected": fschema.get("x-expected") or expected,
            **values,
        }
        zh, en = err.render(**values)
        return Issue(err.code, dotted, zh, en, err.rule, err.infcode, err.severity, expected)

    def explain(self, error: Any) -> list[Issue]:
        kind = error.kind
        name = kind.name
        ipath = list(error.instance_path)
        spath = list(error.schema_path)
        parent = _walk(self.schema, spath[:-1])
        if name == "required":
            prop = kind.property
            fschema = parent.get("properties", {}).get(prop, {"title": prop})
            when = parent.get("x-when") or (
                _walk(self.schema, spath[:-2]).get("x-when") if len(spath) > 1 else None
            )
            if when:
                return [self.issue("E1009", [*ipath, prop], fschema, condition=when)]
            return [self.issue("E1001", [*ipath, prop], fschema)]
        if name in ("additionalProperties", "unevaluatedProperties"):
            return [self.issue("W1001", [*ipath, p], {}) for p in kind.unexpected]
        value = _walk(self.message, ipath)
        if name == "type" and value is None:
            return [self.issue("E1001", ipath, parent)]  # a required field sent as null
        if name == "type" or (name == "pattern" and parent.get("pattern") == "^$"):
            # (an optional number accepts a string only when it is empty)
            return [self.issue("E1002", ipath, parent, actual=_json_type(value))]
        if name == "maxLength":
            return [self.issue("E1003", ipath, parent, limit=kind.limit)]
        if name == "minLength":
            return [self.issue("E1001", ipath, parent)]
        if name == "minItems":
            return [self.issue("E1011", ipath, parent)]
        if name == "const" and ipath == ["infno"]:
            return [self.issue("E1012", ipath, parent, infno=value, expected=parent["const"])]
        if name in ("multipleOf", "exclusiveMaximum", "exclusiveMinimum", "maximum", "minimum"):
            return [self.issue("E1006", ipath, parent)]
        if name == "pattern" and "x-code" in parent:
            table = self.spec.codes[parent["x-code"]]
            code = "W1002" if parent.get("x-open-code") else "E1005"
            regional = _profiles_knowing(self.spec, table.name, value) if table.local else []
            if code == "E1005" and regional:  # a region's value of a table regions extend: say whose
                code = "W1005"
            return [
                self.issue(
                    code,
                    ipath,
                    parent,
                    value=value,
                    code=table.name,
                    code_name=table.zh,
                    profiles="、".join(regional),
                )
            ]
        return [self.issue("E1004", ipath, parent)]


def validate(
    spec: Spec,
    message: Any,
    *,
    infno: str | None = None,
    response: bool = False,
    strict: bool = False,
    context: Mapping[str, Any] | None = None,
    sent_under: str | None = None,
) -> Report:
    """Validate a request (default) or a response; the infno is read from a request when not given.

    ``strict`` reports what real platforms tolerate (fields beyond the spec, values of code tables the
    public sources do not list in full, rules real clients break) as warnings. ``context`` feeds message
    rules (``cross_province``). ``sent_under``: the version the message was sent under (a request's own
    ``infver`` by default; for an answer, its request's): a field a later version made required is not
    required of it (R-ENV-07).
    """
    if message.__class__ is not dict and not isinstance(message, Mapping):
        issue = _Explainer(spec, {}, message).issue("E1007", [], {}, detail=f"got {_json_type(message)}")
        return Report(infno, response, [issue])
    infno = infno or (None if response else str(message.get("infno") or "")) or None
    report = Report(infno, response)
    if infno is None or infno not in spec.transactions:
        report.issues.append(
            _Explainer(spec, {}, message).issue(
                "E1008", ["infno"], {"title": "交易编号"}, infno=infno or "（空）"
            )
        )
        return report
    key = ("quick", infno, response, strict)
    quick = spec.cache.get(key)
    if quick is None:  # the schema's validator and the decimals check, found with one lookup
        quick = spec.cache[key] = (
            validator(spec, infno, response=response, strict=strict, fast=True).is_valid,
            scale_check(spec, infno, response=response),
            calendar_check(spec, infno, response=response),
        )
    if not (quick[0](message) and quick[1](message)):
        v = validator(spec, infno, response=response, strict=strict)
        explainer = _Explainer(spec, schema(spec, infno, response=response, strict=strict), message)
        issues = [i for error in v.iter_errors(message) for i in explainer.explain(error)]
        missing = {i.path for i in issues if i.code in ("E1001", "E1009")}
        # once a field is reported missing, what else its empty value breaks is noise
        report.issues += [i for i in issues if i.code in ("E1001", "E1009") or i.path not in missing]
        if sent_under is None and not response:
            sent_under = str(message.get("infver") or "") or None
        if missing and sent_under and sent_under != spec.version:
            report.issues = _as_sent_under(spec, sent_under, infno, message, report.issues)
    if not report.errors:
        report.issues += [_not_a_day(spec, infno, response, where, message) for where in quick[2](message)]
    if not report.errors:
        for violation in check_message(spec, infno, message, response=response, context=context):
            err = spec.errors[violation.rule.error]
            if err.severity == "warning" and not strict:  # a rule real clients break: strict mode only
                continue
            detail = f"{violation.rule.zh}（{violation.detail}）" if violation.detail else violation.rule.zh
            zh, en = err.render(rule=violation.rule.id, detail=detail, path=violation.path)
            report.issues.append(
                Issue(err.code, violation.path, zh, en, violation.rule.id, err.infcode, err.severity)
            )
    return report


def _not_a_day(spec: Spec, infno: str, response: bool, where: Where, message: Any) -> Issue:
    """E1004 for a date the calendar does not have (2023-02-30, 0000-01-01)."""
    name = str(where[-1])
    if len(where) == 1:
        f = (spec.response if response else spec.request)[name]
    else:
        nodes = spec.transaction(infno).nodes(str(where[0]))
        node = nodes.get(str(where[1])) if len(where) > 2 else None
        f = (node or next(n for n in nodes.values() if n.flat)).fields[name]
    value = _walk(message, where)
    expected = f"日历上存在的日期{EXPECTED[f.form.kind]}，实为“{value}”"
    fschema = {"title": f.zh, "x-form": str(f.form), "x-expected": expected}
    return _Explainer(spec, {}, message).issue("E1004", list(where), fschema)


def _profiles_knowing(spec: Spec, table: str, value: Any) -> list[str]:
    """The shipped regional profiles (of this version) whose code table has the value."""
    found = []
    for profile in loader.profiles():
        if profile in (spec.profile, loader.BASE_PROFILE):
            continue
        try:
            other = loader.load(version=spec.version, profile=profile)
        except (loader.SpecError, OSError):
            continue
        if table in other.codes and other.codes[table].known(str(value)):
            found.append(profile)
    return found


def _as_sent_under(spec: Spec, version: str, infno: str, message: Any, issues: list[Issue]) -> list[Issue]:
    """Missing fields that the version the message was sent under did not require become warnings."""
    if version not in loader.versions() or loader.versions().index(version) >= loader.versions().index(
        spec.version
    ):
        return issues  # not an earlier version yidi knows: judged by the spec as it is
    try:
        older = loader.load(version=version, profile=spec.profile)
    except (loader.SpecError, OSError):
        return issues
    out = []
    for i in issues:
        if i.code in ("E1001", "E1009") and not _required_in(older, infno, i.path, message):
            f = _field_at(spec, infno, i.path)
            zh, en = spec.errors["W1003"].render(
                path=i.path, name=f.zh if f else i.path, version=spec.version, sent_under=version
            )
            i = Issue("W1003", i.path, zh, en, "R-ENV-07", 0, "warning", i.expected)
        out.append(i)
    return out


def _required_in(spec: Spec, infno: str, path: str, message: Any) -> bool:
    """Whether ``spec`` requires the field at ``path`` (``output.setlinfo.psn_cash_pay``) unconditionally
    or on the condition the message meets; the envelope's fields count as required (never lenient)."""
    if not path.startswith(("input.", "output.")):
        return True
    f = _field_at(spec, infno, path)
    if f is None:
        return False  # the field did not exist then
    if f.required:
        return True
    if f.required_when:
        row = _walk(message, [int(p[1:-1]) if p.startswith("[") else p for p in _steps(path)][:-1])
        return isinstance(row, Mapping) and all(row.get(k) == v for k, v in f.required_when.items())
    return False


def _field_at(spec: Spec, infno: str, path: str) -> Field | None:
    """The field a validation path names inside a transaction's input or output."""
    parts = [p for p in re.sub(r"\[\d+\]", "", path).split(".") if p]
    if len(parts) < 2 or infno not in spec.transactions or parts[0] not in ("input", "output"):
        return None
    nodes = spec.transaction(infno).nodes(parts[0])
    node = nodes.get(parts[1]) if len(parts) > 2 else next((n for n in nodes.values() if n.flat), None)
    return node.fields.get(parts[-1]) if node is not None else None


def _steps(path: str) -> list[str]:
    return re.findall(r"[^.\[\]]+|\[\d+\]", path)
