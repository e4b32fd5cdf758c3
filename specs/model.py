"""The specification as Python objects: what the YAML in ``data/`` means once resolved.

Nothing here reads files or speaks HTTP; :mod:`.loader` builds these objects, and the compiler,
validator, simulators and suites consume them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FormKind = Literal["char", "num", "date", "datetime", "json", "bytes"]
Direction = Literal["input", "output"]

_FORM = re.compile(r"^(char|num|date|datetime|json|bytes)(?:\((\d+)(?:,(\d+))?\))?$")


@dataclass(frozen=True)
class Form:
    """A field's wire form: ``char(30)``, ``num(16,2)``, ``date``, ``datetime``, ``json``, ``bytes``."""

    kind: FormKind
    length: int | None = None  # characters for char, precision for num
    scale: int = 0

    @classmethod
    def parse(cls, text: str) -> Form:
        m = _FORM.match(text.replace(" ", ""))
        if not m:
            raise ValueError(f"unknown form {text!r}")
        kind, length, scale = m.groups()
        if kind in ("char", "num") and length is None:
            raise ValueError(f"{kind} needs a length: {text!r}")
        return cls(kind, int(length) if length else None, int(scale or 0))  # type: ignore[arg-type]

    def __str__(self) -> str:
        if self.length is None:
            return self.kind
        return f"{self.kind}({self.length},{self.scale})" if self.scale else f"{self.kind}({self.length})"

    @property
    def zh(self) -> str:
        """The form as the Chinese field tables write it: 字符型(30), 数值型(16,2), 日期型 …"""
        name = {
            "char": "字符型",
            "num": "数值型",
            "date": "日期型",
            "datetime": "日期时间型",
            "json": "JSON",
            "bytes": "字节",
        }[self.kind]
        return name + str(self)[len(self.kind) :]


@dataclass(frozen=True)
class Field:
    name: str
    zh: str
    form: Form
    required: bool = False
    required_when: Mapping[str, str] | None = None  # {other_field: value} in the same node
    code: str | None = None  # code table name
    format: str | None = None  # named wire pattern (formats.yaml)
    wire: tuple[str, ...] = ()  # extra JSON types accepted on the wire (infcode: number or string)
    note: str = ""
    example: Any = None
    # envelope-only conditions
    required_if_input_has: str | None = None
    required_unless_success: bool = False

    @property
    def when_text(self) -> str:
        """The condition of ``required_when`` as people read it: ``mdtrt_cert_type=03``."""
        return "、".join(f"{k}={v}" for k, v in (self.required_when or {}).items())


@dataclass(frozen=True)
class Node:
    """A node of ``input`` or ``output``: an object, or an array of objects (``name[]`` in YAML)."""

    name: str
    fields: Mapping[str, Field]
    array: bool = False
    optional: bool = False
    flat: bool = False  # fields sit directly under input/output (regional drift, 9101)
    note: str = ""

    @property
    def label(self) -> str:
        return self.name + ("[]" if self.array else "")


@dataclass(frozen=True)
class Transaction:
    infno: str
    zh: str
    en: str
    route: tuple[str, ...]  # sender, [via …,] receiver
    input: Mapping[str, Node]
    output: Mapping[str, Node]
    service_path: str | None = None
    reversible: bool = False
    query: bool = False  # reads only: repeating it changes nothing (no idempotency record needed)
    yidi: bool = False  # defined by yidi (the province↔hub interface is not public)
    response_media: str = "application/json"
    errors: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    note: str = ""
    source: str = ""

    @property
    def sender(self) -> str:
        return self.route[0]

    @property
    def receiver(self) -> str:
        return self.route[-1]

    def nodes(self, direction: str) -> Mapping[str, Node]:
        """``input`` or ``output``."""
        return self.input if direction == "input" else self.output

    def has_input_field(self, name: str) -> bool:
        return any(name in node.fields for node in self.input.values())


@dataclass(frozen=True)
class CodeTable:
    name: str
    zh: str
    values: Mapping[str, str]
    closed: bool = True  # False: the public sources do not give the whole table
    local: str | None = None  # pattern of locally assigned values
    yidi: bool = False

    def known(self, value: str) -> bool:
        return value in self.values or bool(self.local and re.search(self.local, value))


@dataclass(frozen=True)
class Format:
    name: str
    pattern: str
    zh: str


@dataclass(frozen=True)
class ErrorDef:
    code: str
    infcode: int
    zh: str
    en: str
    rule: str = ""
    severity: Literal["error", "warning"] = "error"

    def render(self, **values: Any) -> tuple[str, str]:
        """The Chinese and English messages with their placeholders filled (missing ones stay visible)."""
        safe = _Placeholders(values)
        return self.zh.format_map(safe), self.en.format_map(safe)


class _Placeholders(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Rule:
    id: str
    kind: Literal["message", "behaviour"]
    zh: str
    en: str
    on: tuple[str, ...] = ()
    check: str | None = None
    when: str | None = None
    error: str = "E5001"
    source: str = ""


@dataclass(frozen=True)
class Transition:
    infno: str
    from_states: frozenset[str] = frozenset()
    to: str | Mapping[str, str] | None = None  # a state, "$same", or {guard: state, otherwise: state}
    when: str | None = None  # a guard that must hold
    undoes: str | None = None  # return to the state before this infno
    refuse: Mapping[str, str] = field(default_factory=dict)  # state: error code when refused there


@dataclass(frozen=True)
class Machine:
    name: str
    zh: str
    initial: str
    states: Mapping[str, tuple[str, str]]  # state: (zh, en)
    final: frozenset[str]
    transitions: tuple[Transition, ...]
    reversal: Mapping[str, Transition]  # by the reversed transaction's infno

    @property
    def infnos(self) -> frozenset[str]:
        return frozenset(t.infno for t in self.transitions)


@dataclass(frozen=True)
class Role:
    name: str
    zh: str
    en: str


DEFAULT_TARGET = "default"
EPISODES = ("inpatient episode", "outpatient episode")  # Locust request names of whole episodes (load/)


@dataclass(frozen=True)
class Target:
    """A service-level target (服务水平目标) of one Locust request name; None: no target for that metric."""

    p95_ms: float | None = None
    p99_ms: float | None = None
    error_rate: float | None = None  # a fraction: 0.001 = 0.1 %


@dataclass
class Spec:
    """One resolved specification: a version with a regional profile applied."""

    name: str
    zh: str
    en: str
    version: str
    profile: str
    roles: Mapping[str, Role]
    semantics: Mapping[str, Any]
    request: Mapping[str, Field]  # envelope 公共入参
    response: Mapping[str, Field]  # envelope 公共出参
    transport: Mapping[str, Any]
    formats: Mapping[str, Format]
    codes: Mapping[str, CodeTable]
    errors: Mapping[str, ErrorDef]
    rules: Mapping[str, Rule]
    guards: Mapping[str, tuple[str, str]]
    machines: Mapping[str, Machine]
    transactions: Mapping[str, Transaction]
    status: str = "release"
    targets: Mapping[str, Target] = field(default_factory=dict)  # service.yaml, by Locust request name
    # Compiled artefacts, built on first use and kept for the life of the spec (see compiler).
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ref(self) -> str:
        """The name a user gives to select this spec: ``V1.0`` or ``V1.0+guangzhou``."""
        return self.version if self.profile == "base" else f"{self.version}+{self.profile}"

    def transaction(self, infno: str) -> Transaction:
        try:
            return self.transactions[infno]
        except KeyError:
            raise KeyError(f"infno {infno} is not in spec {self.ref}") from None

    def machine_for(self, infno: str) -> Machine | None:
        return next((m for m in self.machines.values() if infno in m.infnos), None)

    def target(self, name: str) -> Target:
        """The service-level target of a Locust request name (an infno or an episode), else the default."""
        return self.targets.get(name) or self.targets.get(DEFAULT_TARGET) or Target()
