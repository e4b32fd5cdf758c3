"""Compare two specs (versions, profiles, or a province's own overlay) and classify every change.

A change is **breaking** when a message that conformed before may not conform after, or when a
party that relied on something loses it: a field removed or renamed, newly required (also under a
condition), narrowed, retyped, a code value removed, a node renamed or flattened, a transaction
removed or moved, a new message rule, a life-cycle transition dropped. Everything else
(additions of optional things, widening, new values) is compatible. Each change names the
transactions it affects, so the cases to re-run can be selected from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from .model import CodeTable, Field, Machine, Node, Spec, Transaction

KINDS: dict[str, tuple[bool, str, str]] = {
    # kind: (breaking, 中文, English)
    "transaction-removed": (True, "交易删除", "transaction removed"),
    "transaction-added": (False, "交易新增", "transaction added"),
    "route-changed": (True, "收发方变更", "sender or receiver changed"),
    "service-path-changed": (True, "服务路径变更", "service path changed"),
    "reversibility-changed": (True, "可冲正性变更", "reversibility changed"),
    "node-removed": (True, "节点删除", "node removed"),
    "node-added-required": (True, "新增必填节点", "required node added"),
    "node-added-optional": (False, "新增可选节点", "optional node added"),
    "node-renamed": (True, "节点改名", "node renamed"),
    "node-shape-changed": (
        True,
        "节点结构变更（数组/对象/平铺）",
        "node shape changed (array, object, flat)",
    ),
    "node-became-required": (True, "节点改为必填", "node became required"),
    "node-became-optional": (False, "节点改为可选", "node became optional"),
    "field-removed": (True, "字段删除", "field removed"),
    "field-added-required": (True, "新增必填字段", "required field added"),
    "field-added-optional": (False, "新增可选字段", "optional field added"),
    "field-became-required": (True, "字段改为必填", "field became required"),
    "field-became-optional": (False, "字段改为可选", "field became optional"),
    "condition-added": (True, "新增条件必填", "field became conditionally required"),
    "condition-changed": (True, "条件必填条件变更", "condition of a conditional field changed"),
    "condition-removed": (False, "取消条件必填", "condition removed"),
    "type-changed": (True, "字段类型变更", "field type changed"),
    "length-narrowed": (True, "长度或精度收窄", "length or precision narrowed"),
    "length-widened": (False, "长度或精度放宽", "length or precision widened"),
    "format-changed": (True, "格式变更", "format changed"),
    "code-table-changed": (True, "代码表变更", "field uses another code table"),
    "code-value-removed": (True, "代码值删除", "code value removed"),
    "code-value-added": (False, "代码值新增", "code value added"),
    "code-value-renamed": (False, "代码值名称变更", "code value renamed"),
    "code-table-closed": (True, "代码表改为封闭", "code table became closed"),
    "code-table-opened": (False, "代码表改为开放", "code table became open"),
    "code-local-changed": (True, "地方扩展代码规则变更", "local code pattern changed"),
    "semantics-changed": (True, "业务口径变更", "behaviour switch changed"),
    "rule-added": (True, "新增校验规则", "message rule added"),
    "rule-changed": (True, "校验规则变更", "message rule changed"),
    "rule-removed": (False, "校验规则删除", "message rule removed"),
    "lifecycle-transition-removed": (True, "状态迁移删除", "life-cycle transition removed"),
    "lifecycle-transition-added": (False, "状态迁移新增", "life-cycle transition added"),
}


@dataclass(frozen=True)
class Change:
    kind: str
    where: str
    old: str = ""
    new: str = ""
    affects: tuple[str, ...] = ()  # infnos whose messages or behaviour the change touches

    @property
    def breaking(self) -> bool:
        return KINDS[self.kind][0]

    @property
    def zh(self) -> str:
        return KINDS[self.kind][1]

    @property
    def en(self) -> str:
        return KINDS[self.kind][2]


@dataclass
class Diff:
    old: str
    new: str
    changes: list[Change] = field(default_factory=list)

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def affected(self) -> set[str]:
        return {infno for c in self.changes for infno in c.affects}


def _size(f: Field) -> tuple[int, int]:
    return (f.form.length or 0, f.form.scale)


def _fields(
    where: str, old: Mapping[str, Field], new: Mapping[str, Field], affects: tuple[str, ...]
) -> Iterator[Change]:
    for name in old.keys() - new.keys():
        yield Change("field-removed", f"{where}.{name}", str(old[name].form), "", affects)
    for name in new.keys() - old.keys():
        f = new[name]
        kind = (
            "field-added-required"
            if f.required
            else ("condition-added" if f.required_when else "field-added-optional")
        )
        yield Change(kind, f"{where}.{name}", "", f"{f.form} {f.when_text}".strip(), affects)
    for name in old.keys() & new.keys():
        a, b, here = old[name], new[name], f"{where}.{name}"
        if a.required != b.required:
            yield Change(
                "field-became-required" if b.required else "field-became-optional",
                here,
                str(a.required),
                str(b.required),
                affects,
            )
        if a.required_when != b.required_when:
            kind = (
                "condition-added"
                if not a.required_when
                else "condition-removed"
                if not b.required_when
                else "condition-changed"
            )
            yield Change(kind, here, a.when_text, b.when_text, affects)
        if a.form.kind != b.form.kind:
            yield Change("type-changed", here, str(a.form), str(b.form), affects)
        elif _size(a) != _size(b):
            narrowed = (b.form.length or 0) < (a.form.length or 0) or b.form.scale < a.form.scale
            yield Change(
                "length-narrowed" if narrowed else "length-widened", here, str(a.form), str(b.form), affects
            )
        if a.format != b.format:
            yield Change("format-changed", here, a.format or "", b.format or "", affects)
        if a.code != b.code:
            yield Change("code-table-changed", here, a.code or "", b.code or "", affects)


def _renames(old: Mapping[str, Node], new: Mapping[str, Node]) -> dict[str, str]:
    """Removed and added nodes with the same fields are one node renamed (Guangzhou's mdtrtinfo)."""
    gone = [n for n in old if n not in new]
    came = [n for n in new if n not in old]
    return {a: b for a in gone for b in came if set(old[a].fields) == set(new[b].fields)}


def _shape(node: Node) -> str:
    return "flat" if node.flat else ("array" if node.array else "object")


def _nodes(infno: str, direction: str, old: Mapping[str, Node], new: Mapping[str, Node]) -> Iterator[Change]:
    affects = (infno,)
    renames = _renames(old, new)
    for name in old.keys() - new.keys() - renames.keys():
        yield Change("node-removed", f"{infno}.{direction}.{old[name].label}", affects=affects)
    for name in new.keys() - old.keys() - set(renames.values()):
        kind = "node-added-optional" if new[name].optional else "node-added-required"
        yield Change(kind, f"{infno}.{direction}.{new[name].label}", affects=affects)
    pairs = [(n, n) for n in old.keys() & new.keys()] + list(renames.items())
    for a_name, b_name in pairs:
        a, b = old[a_name], new[b_name]
        where = f"{infno}.{direction}.{a.label}"
        if a_name != b_name:
            yield Change("node-renamed", where, a_name, b_name, affects)
        if _shape(a) != _shape(b):
            yield Change("node-shape-changed", where, _shape(a), _shape(b), affects)
        if a.optional != b.optional:
            yield Change(
                "node-became-optional" if b.optional else "node-became-required", where, affects=affects
            )
        yield from _fields(where, a.fields, b.fields, affects)


def _transaction(old: Transaction, new: Transaction) -> Iterator[Change]:
    affects = (old.infno,)
    if old.route != new.route:
        yield Change("route-changed", old.infno, "→".join(old.route), "→".join(new.route), affects)
    if old.service_path != new.service_path:
        yield Change(
            "service-path-changed", old.infno, old.service_path or "", new.service_path or "", affects
        )
    if old.reversible != new.reversible:
        yield Change("reversibility-changed", old.infno, str(old.reversible), str(new.reversible), affects)
    yield from _nodes(old.infno, "input", old.input, new.input)
    yield from _nodes(old.infno, "output", old.output, new.output)


def _users(spec: Spec, table: str) -> tuple[str, ...]:
    return tuple(
        sorted(
            t.infno
            for t in spec.transactions.values()
            if any(
                f.code == table for n in (*t.input.values(), *t.output.values()) for f in n.fields.values()
            )
        )
    )


def _codes(old: CodeTable, new: CodeTable, affects: tuple[str, ...]) -> Iterator[Change]:
    where = f"codes.{old.name}"
    for value in old.values.keys() - new.values.keys():
        yield Change("code-value-removed", f"{where}.{value}", old.values[value], "", affects)
    for value in new.values.keys() - old.values.keys():
        yield Change("code-value-added", f"{where}.{value}", "", new.values[value], affects)
    for value in old.values.keys() & new.values.keys():
        if old.values[value] != new.values[value]:
            yield Change(
                "code-value-renamed", f"{where}.{value}", old.values[value], new.values[value], affects
            )
    if old.closed != new.closed:
        yield Change("code-table-closed" if new.closed else "code-table-opened", where, affects=affects)
    if old.local != new.local:
        yield Change("code-local-changed", where, old.local or "", new.local or "", affects)


def _edges(machine: Machine) -> set[tuple[str, str, str]]:
    return {
        (t.infno, s, str(t.to or t.undoes)) for t in machine.transitions for s in (t.from_states or {"*"})
    }


def _rule_affects(spec: Spec, targets: Iterable[str]) -> tuple[str, ...]:
    infnos = {t.split(".", 1)[0] for t in targets if "." in t}
    if any(t in ("request", "response") for t in targets):
        infnos |= set(spec.transactions)
    return tuple(sorted(infnos))


def diff(old: Spec, new: Spec) -> Diff:
    result = Diff(old.ref, new.ref)
    add = result.changes.extend
    everything = tuple(sorted(set(old.transactions) | set(new.transactions)))
    for infno in old.transactions.keys() - new.transactions.keys():
        add([Change("transaction-removed", infno, affects=(infno,))])
    for infno in new.transactions.keys() - old.transactions.keys():
        add([Change("transaction-added", infno, affects=(infno,))])
    for infno in sorted(old.transactions.keys() & new.transactions.keys()):
        add(_transaction(old.transactions[infno], new.transactions[infno]))
    add(_fields("envelope.request", old.request, new.request, everything))
    add(_fields("envelope.response", old.response, new.response, everything))
    for name in old.codes.keys() & new.codes.keys():
        add(_codes(old.codes[name], new.codes[name], _users(new, name)))
    for key in old.semantics.keys() | new.semantics.keys():
        if old.semantics.get(key) != new.semantics.get(key):
            add(
                [
                    Change(
                        "semantics-changed",
                        f"semantics.{key}",
                        str(old.semantics.get(key)),
                        str(new.semantics.get(key)),
                        everything,
                    )
                ]
            )
    for rid in old.rules.keys() | new.rules.keys():
        a, b = old.rules.get(rid), new.rules.get(rid)
        if a and b and a.kind == b.kind == "message" and (a.check, a.when, a.on) != (b.check, b.when, b.on):
            add(
                [
                    Change(
                        "rule-changed", rid, a.check or "", b.check or "", _rule_affects(new, (*a.on, *b.on))
                    )
                ]
            )
        elif b and b.kind == "message" and not (a and a.kind == "message"):
            add([Change("rule-added", rid, "", b.check or "", _rule_affects(new, b.on))])
        elif a and a.kind == "message" and not (b and b.kind == "message"):
            add([Change("rule-removed", rid, a.check or "", "", _rule_affects(old, a.on))])
    for name in old.machines.keys() & new.machines.keys():
        a_edges, b_edges = _edges(old.machines[name]), _edges(new.machines[name])
        for infno, state, to in sorted(a_edges - b_edges):
            add(
                [
                    Change(
                        "lifecycle-transition-removed",
                        f"lifecycle.{name}.{infno}",
                        f"{state}→{to}",
                        "",
                        (infno,),
                    )
                ]
            )
        for infno, state, to in sorted(b_edges - a_edges):
            add(
                [
                    Change(
                        "lifecycle-transition-added",
                        f"lifecycle.{name}.{infno}",
                        "",
                        f"{state}→{to}",
                        (infno,),
                    )
                ]
            )
    result.changes.sort(key=lambda c: (not c.breaking, c.where))
    return result
