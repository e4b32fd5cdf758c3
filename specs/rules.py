"""Message rules: the ``check``/``when`` expressions of rules.yaml, compiled once and run per message.

The language is a small, safe subset of Python expressions: field names, numbers, strings, + - *,
comparisons, and/or/not, ``x if c else y``, slices, and the functions below. ``==`` between numbers
means equal to the cent (money arrives as binary floats). In a rule, a missing or empty amount
counts as 0 and a missing string as "".
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .model import Rule, Spec

CENT = 0.005


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) < CENT
    return bool(a == b)


def _valid_stamp(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return False
    return True


class Absent(float):
    """A missing amount: 0 in arithmetic, but ``coalesce`` can still tell it was not sent."""


ABSENT = Absent(0.0)


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not isinstance(v, Absent) and v not in (None, "")), ABSENT)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "round": round, "len": len, "sum": sum, "min": min, "max": max,
    "startswith": lambda s, prefix: str(s).startswith(str(prefix)),
    "valid_stamp": _valid_stamp,
    "coalesce": _coalesce,
}

_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.UnaryOp, ast.Not,
    ast.USub, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.IfExp, ast.Call, ast.Name,
    ast.Load, ast.Constant, ast.Subscript, ast.Slice,
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
    code: Any
    names: frozenset[str]

    def __call__(self, scope: Mapping[str, Any]) -> Any:
        return eval(self.code, {"__builtins__": {}, "_eq": _eq, **FUNCTIONS}, scope)  # noqa: S307 — whitelisted AST


def compile_expression(text: str) -> Expression:
    tree = ast.parse(" ".join(text.split()), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise RuleSyntaxError(f"{type(node).__name__} is not allowed in a rule: {text!r}")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            raise RuleSyntaxError(f"only {sorted(FUNCTIONS)} may be called in a rule: {text!r}")
    names = frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name)) - set(FUNCTIONS)
    tree = ast.fix_missing_locations(_EqualToTheCent().visit(tree))
    return Expression(text, compile(tree, f"<rule {text[:40]}>", "eval"), names)


_RESERVED = frozenset(FUNCTIONS) | {"_eq"}


class Scope(Mapping[str, Any]):
    """The names a rule sees: one node's fields (with defaults by form), then the context."""

    def __init__(self, values: Mapping[str, Any], numeric: frozenset[str], context: Mapping[str, Any]) -> None:
        self.values, self.numeric, self.context = values, numeric, context

    def __getitem__(self, name: str) -> Any:
        if name in _RESERVED:
            raise KeyError(name)  # let eval find the function in its globals
        value = self.values.get(name)
        if value is None or value == "":
            if name in self.context:
                return self.context[name]
            return ABSENT if name in self.numeric else ""
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Target:
    """Where a rule applies: the whole envelope, or one node (each element of an array node)."""

    infno: str | None  # None: every transaction's envelope
    direction: str  # request / response, or input / output
    node: str | None
    each: bool


def parse_target(text: str) -> Target:
    if text in ("request", "response"):
        return Target(None, text, None, False)
    infno, direction, node = text.split(".", 2)
    return Target(infno, direction, node.removesuffix("[]"), node.endswith("[]"))


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    check: Expression
    when: Expression | None

    def holds(self, scope: Scope) -> bool:
        if self.when is not None and not self.when(scope):
            return True  # the rule does not apply here
        return bool(self.check(scope))

    def show(self, scope: Scope) -> str:
        """The values the rule saw, for the error message."""
        return ", ".join(f"{n}={scope[n]}" for n in sorted(self.check.names) if n not in scope.context)


@dataclass(frozen=True)
class Violation:
    rule: Rule
    path: str
    detail: str


def compiled_rules(spec: Spec) -> list[tuple[Target, CompiledRule]]:
    """Every message rule of the spec, compiled once per spec."""
    key = ("rules",)
    if key not in spec.cache:
        out = []
        for rule in spec.rules.values():
            if rule.kind != "message" or not rule.check:
                continue
            compiled = CompiledRule(rule, compile_expression(rule.check),
                                    compile_expression(rule.when) if rule.when else None)
            out += [(parse_target(t), compiled) for t in rule.on]
        spec.cache[key] = out
    return spec.cache[key]  # type: ignore[no-any-return]


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


def names_read(spec: Spec, infno: str, direction: str, node: str) -> frozenset[str]:
    """The fields the message rules read in one node: a minimal valid message must carry them."""
    return frozenset().union(*(
        c.check.names | (c.when.names if c.when else frozenset())
        for target, c in compiled_rules(spec)
        if (target.infno, target.direction, target.node) == (infno, direction, node)
    ))


def check_message(spec: Spec, infno: str, message: Mapping[str, Any], *, response: bool,
                  context: Mapping[str, Any] | None = None) -> list[Violation]:
    """Run every message rule that applies to this message; the message is assumed schema-valid."""
    ctx = {"cross_province": False, **spec.semantics, **(context or {})}
    txn = spec.transactions.get(infno)
    body_key, direction = ("output", "output") if response else ("input", "input")
    numeric = numeric_names(spec)
    violations: list[Violation] = []
    for target, compiled in compiled_rules(spec):
        if target.infno is None:
            if target.direction == ("response" if response else "request"):
                scope = Scope(message, numeric, ctx)
                if not compiled.holds(scope):
                    violations.append(Violation(compiled.rule, "", compiled.show(scope)))
            continue
        if target.infno != infno or target.direction != direction or txn is None:
            continue
        node = txn.nodes(direction).get(target.node or "")  # type: ignore[arg-type]
        body = message.get(body_key)
        if node is None or not isinstance(body, Mapping):
            continue
        value = body if node.flat else body.get(node.name)
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if not isinstance(item, Mapping):
                continue
            scope = Scope(item, numeric, ctx)
            if not compiled.holds(scope):
                path = f"{body_key}.{node.name}" + (f"[{index}]" if index is not None else "")
                violations.append(Violation(compiled.rule, path, compiled.show(scope)))
    return violations
