"""Message rules: the ``check``/``when`` expressions of rules.yaml, compiled once and run per message.

The language is a small, safe subset of Python expressions: field names, numbers, strings, + - *,
comparisons, and/or/not, ``x if c else y``, slices, and the functions below. ``==`` between numbers
means equal to the cent (money arrives as binary floats). A missing or empty amount counts as 0 (but
``coalesce`` still sees it as missing); a missing string as "". Names a node does not carry come
from the context: the profile's ``semantics`` and the caller's (``cross_province``).

Each rule becomes an ordinary Python function, generated from its whitelisted syntax tree, so a
check costs about what a hand-written one would.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .model import Rule, Spec

CENT = 0.005


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) < CENT
    return bool(a == b)


@functools.lru_cache(maxsize=4096)  # a second's messages share their stamp: most calls are hits
def _valid_stamp(text: str) -> bool:
    """yyyyMMddHHmmss naming a real moment (strptime costs 30 µs; this is on every message)."""
    if len(text) != 14 or not text.isascii() or not text.isdigit():
        return False
    try:
        datetime(
            int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]), int(text[12:])
        )
    except ValueError:
        return False
    return True


class Absent(float):
    """A missing amount: 0 in arithmetic, but ``coalesce`` can still tell it was not sent."""


ABSENT = Absent(0.0)


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not isinstance(v, Absent) and v not in (None, "")), ABSENT)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
    "len": len,
    "sum": sum,
    "min": min,
    "max": max,
    "startswith": lambda s, prefix: str(s).startswith(str(prefix)),
    "valid_stamp": _valid_stamp,
    "coalesce": _coalesce,
}

_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Subscript,
    ast.Slice,
)


class RuleSyntaxError(ValueError):
    pass


class _EqualToTheCent(ast.NodeTransformer):
    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq | ast.NotEq):
            call: ast.expr = ast.Call(ast.Name("_eq", ast.Load()), [node.left, node.comparators[0]], [])
            return ast.UnaryOp(ast.Not(), call) if isinstance(node.ops[0], ast.NotEq) else call
        return node


@dataclass(frozen=True)
class Expression:
    text: str
    source: str  # Python, from the whitelisted and rewritten tree
    names: frozenset[str]


def compile_expression(text: str) -> Expression:
    tree = ast.parse(" ".join(text.split()), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise RuleSyntaxError(f"{type(node).__name__} is not allowed in a rule: {text!r}")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            raise RuleSyntaxError(f"only {sorted(FUNCTIONS)} may be called in a rule: {text!r}")
    names = frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name)) - set(FUNCTIONS)
    if any(n.startswith("_") for n in names):
        raise RuleSyntaxError(f"names starting with _ are reserved: {text!r}")
    rewritten = ast.fix_missing_locations(_EqualToTheCent().visit(tree))
    return Expression(text, ast.unparse(rewritten), names)


RuleFunction = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


def _function(check: Expression, when: Expression | None, numeric: frozenset[str]) -> RuleFunction:
    """``f(values, context) -> holds``, as Python source built only from whitelisted syntax."""
    lines = ["def rule(_v, _ctx):"]
    for name in sorted(check.names | (when.names if when else frozenset())):
        default = "_ABSENT" if name in numeric else "''"
        lines += [
            f"    {name} = _v.get({name!r})",
            f"    if {name} is None or {name} == '': {name} = _ctx.get({name!r}, {default})",
        ]
    if when:
        lines.append(f"    if not ({when.source}): return True")
    lines.append(f"    return _bool({check.source})")
    namespace: dict[str, Any] = {
        "__builtins__": {},
        "_ABSENT": ABSENT,
        "_eq": _eq,
        "_bool": bool,
        **FUNCTIONS,
    }
    exec(compile("\n".join(lines), f"<rule {check.text[:40]}>", "exec"), namespace)
    return namespace["rule"]  # type: ignore[no-any-return]


def evaluate(
    text: str,
    values: Mapping[str, Any],
    *,
    numeric: frozenset[str] = frozenset(),
    context: Mapping[str, Any] | None = None,
) -> bool:
    """Evaluate one expression (for tests and for people trying a rule out)."""
    return _function(compile_expression(text), None, numeric)(values, context or {})


@dataclass(frozen=True)
class Target:
    """Where a rule applies: the whole envelope, or one node (each element of an array node)."""

    infno: str | None  # None: every transaction's envelope
    direction: str  # request / response, or input / output
    node: str | None


def parse_target(text: str) -> Target:
    if text in ("request", "response"):
        return Target(None, text, None)
    infno, direction, node = text.split(".", 2)
    return Target(infno, direction, node.removesuffix("[]"))


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    check: Expression
    when: Expression | None
    holds: RuleFunction

    def show(self, values: Mapping[str, Any], context: Mapping[str, Any]) -> str:
        """The field values the rule saw (— for absent), for the error message."""
        names = [n for n in sorted(self.check.names) if n in values or n not in context]
        return ", ".join(f"{n}={'—' if values.get(n) in (None, '') else values[n]}" for n in names)


@dataclass(frozen=True)
class Violation:
    rule: Rule
    path: str
    detail: str


def numeric_names(spec: Spec) -> frozenset[str]:
    """Every field name that is a number somewhere in the spec: absent, it counts as 0 in a rule."""
    key = ("numeric",)
    if key not in spec.cache:
        fields = [*spec.request.values(), *spec.response.values()]
        for txn in spec.transactions.values():
            for node in (*txn.input.values(), *txn.output.values()):
                fields += node.fields.values()
        spec.cache[key] = frozenset(f.name for f in fields if f.form.kind == "num")
    return spec.cache[key]  # type: ignore[no-any-return]


def compiled_rules(spec: Spec) -> list[tuple[Target, CompiledRule]]:
    """Every message rule of the spec, compiled once per spec."""
    key = ("rules",)
    if key not in spec.cache:
        numeric = numeric_names(spec)
        out = []
        for rule in spec.rules.values():
            if rule.kind != "message" or not rule.check:
                continue
            check = compile_expression(rule.check)
            when = compile_expression(rule.when) if rule.when else None
            compiled = CompiledRule(rule, check, when, _function(check, when, numeric))
            out += [(parse_target(t), compiled) for t in rule.on]
        spec.cache[key] = out
    return spec.cache[key]  # type: ignore[no-any-return]


def names_read(spec: Spec, infno: str, direction: str, node: str) -> frozenset[str]:
    """The fields the message rules read in one node: a minimal valid message must carry them."""
    return frozenset().union(
        *(
            c.check.names | (c.when.names if c.when else frozenset())
            for target, c in compiled_rules(spec)
            if (target.infno, target.direction, target.node) == (infno, direction, node)
        )
    )


def _plan(spec: Spec, infno: str, response: bool) -> list[tuple[Target, CompiledRule]]:
    key = ("rule-plan", infno, response)
    if key not in spec.cache:
        envelope, direction = ("response", "output") if response else ("request", "input")
        spec.cache[key] = [
            (t, c)
            for t, c in compiled_rules(spec)
            if (t.infno is None and t.direction == envelope)
            or (t.infno == infno and t.direction == direction)
        ]
    return spec.cache[key]  # type: ignore[no-any-return]


def _context(spec: Spec, context: Mapping[str, Any] | None) -> Mapping[str, Any]:
    key = ("rule-context",)
    if key not in spec.cache:
        spec.cache[key] = {"cross_province": False, **spec.semantics}
    base: Mapping[str, Any] = spec.cache[key]
    return {**base, **context} if context else base


def _check(
    compiled: CompiledRule, values: Mapping[str, Any], ctx: Mapping[str, Any], path: str
) -> Violation | None:
    try:
        if compiled.holds(values, ctx):
            return None
        detail = compiled.show(values, ctx)
    except (TypeError, ValueError, ArithmeticError, IndexError) as e:  # a value the rule cannot use
        detail = f"无法计算 cannot evaluate: {e}"
    return Violation(compiled.rule, path, detail)


def check_message(
    spec: Spec,
    infno: str,
    message: Mapping[str, Any],
    *,
    response: bool,
    context: Mapping[str, Any] | None = None,
) -> list[Violation]:
    """Run every message rule that applies to this message; the message is assumed schema-valid."""
    plan = _plan(spec, infno, response)
    if not plan:
        return []
    ctx = _context(spec, context)
    txn = spec.transactions.get(infno)
    body_key = "output" if response else "input"
    found: list[Violation | None] = []
    for target, compiled in plan:
        if target.infno is None:
            found.append(_check(compiled, message, ctx, ""))
            continue
        node = txn.nodes(body_key).get(target.node or "") if txn else None
        body = message.get(body_key)
        if node is None or not isinstance(body, Mapping):
            continue
        value = body if node.flat else body.get(node.name)
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if isinstance(item, Mapping):
                path = f"{body_key}.{node.name}" + (f"[{index}]" if index is not None else "")
                found.append(_check(compiled, item, ctx, path))
    return [v for v in found if v is not None]
