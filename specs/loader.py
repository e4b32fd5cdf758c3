"""Read the YAML spec, apply version and profile overlays, and build the :class:`~.model.Spec`.

The embedded spec ships in ``data/``; a province can point at its own folder of the same shape, or
give an overlay file of its own as a profile. Every cross-reference is checked at load time, so a
broken spec fails here with a list of what is wrong rather than in the middle of a test run.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from . import overlay
from .model import (
    DEFAULT_TARGET,
    EPISODES,
    CodeTable,
    ErrorDef,
    Field,
    Form,
    Format,
    Machine,
    Node,
    Role,
    Rule,
    Spec,
    Target,
    Transaction,
    Transition,
)
from .rules import RuleSyntaxError, compile_expression

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
BASE_PROFILE = "base"
OPTIONAL = ("service",)  # files a spec folder of one's own may leave out


class SpecError(ValueError):
    """The spec (or an overlay) is inconsistent; ``problems`` lists every finding."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("spec is inconsistent:\n  " + "\n  ".join(self.problems))


@functools.cache  # importlib.resources costs ~10 µs a call, and every HIS client loads its spec
def data_dir() -> Path:
    return Path(str(resources.files("yidi.specs") / "data"))


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)


def _read_part(root: Path, name: str) -> dict[str, Any]:
    """One file of the spec folder as a mapping: {} when empty, or when an optional file is missing."""
    path = root / f"{name}.yaml"
    if name in OPTIONAL and not path.exists():
        return {}
    return _read(path) or {}


@functools.lru_cache(maxsize=8)
def _raw_base(root: Path) -> dict[str, Any]:
    raw: dict[str, Any] = {name: _read_part(root, name) for name in ("spec", *overlay.PATCHABLE)}
    raw["transactions"] = {}
    for path in sorted((root / "transactions").rglob("*.yaml")):
        txn = _read(path)
        raw["transactions"][str(txn["infno"])] = txn
    return raw


def versions(root: Path | None = None) -> list[str]:
    """Spec versions shipped in ``root`` (the base version first)."""
    root = root or data_dir()
    base = _raw_base(root)["spec"]["version"]
    return [base, *sorted(p.stem for p in (root / "versions").glob("*.yaml"))]


def profiles(root: Path | None = None) -> list[str]:
    root = root or data_dir()
    return [BASE_PROFILE, *sorted(p.stem for p in (root / "profiles").glob("*.yaml"))]


def _overlay_file(root: Path, folder: str, name: str) -> tuple[str, dict[str, Any]]:
    """An overlay by name (``versions/NAME.yaml``) or by path to a file of one's own."""
    path = Path(name)
    if path.suffix not in (".yaml", ".yml") or not path.exists():
        path = root / folder / f"{name}.yaml"
    if not path.exists():
        known = versions(root) if folder == "versions" else profiles(root)
        raise SpecError([f"no {folder[:-1]} {name!r} (known: {', '.join(known)})"])
    data = _read(path) or {}
    return str(data.get(folder[:-1], path.stem)), data


def _version_chain(root: Path, version: str) -> list[dict[str, Any]]:
    base = _raw_base(root)["spec"]["version"]
    chain: list[dict[str, Any]] = []
    seen = set()
    while version != base:
        if version in seen:
            raise SpecError([f"version {version} extends itself"])
        seen.add(version)
        _, data = _overlay_file(root, "versions", version)
        chain.append(data)
        version = str(data.get("extends", base))
    return list(reversed(chain))


def parse_ref(ref: str | None, root: Path | None = None) -> tuple[str | None, str | None]:
    """``V1.1+guangzhou`` → (V1.1, guangzhou); ``guangzhou`` → (None, guangzhou); ``V1.1`` → (V1.1, None);
    a path to an overlay file → (None, path)."""
    if not ref:
        return None, None
    if "+" in ref:
        version, profile = ref.split("+", 1)
        return version or None, profile or None
    if ref in versions(root) or (ref[:1] in "Vv" and not ref.endswith((".yaml", ".yml"))):
        return ref, None
    return None, ref


def load(
    ref: str | None = None,
    *,
    version: str | None = None,
    profile: str | None = None,
    root: Path | str | None = None,
) -> Spec:
    """The spec for a version and profile (defaults: the base version, no regional profile).

    ``ref`` is the short form users type: ``V1.1``, ``guangzhou``, ``V1.1+guangzhou`` or a path to
    an overlay file. Results are cached: one Spec object per (root, version, profile).
    """
    root_path = Path(root) if root else data_dir()
    ref_version, ref_profile = parse_ref(ref, root_path)
    base_version = _raw_base(root_path)["spec"]["version"]
    return _load(root_path, version or ref_version or base_version, profile or ref_profile or BASE_PROFILE)


@functools.lru_cache(maxsize=32)
def _load(root: Path, version: str, profile: str) -> Spec:
    raw = _raw_base(root)
    status = "release"
    for layer in _version_chain(root, version):
        raw = overlay.apply(raw, layer)
        status = str(layer.get("status", status))
    profile_name = BASE_PROFILE
    if profile != BASE_PROFILE:
        profile_name, data = _overlay_file(root, "profiles", profile)
        raw = overlay.apply(raw, data)
    spec = _build(raw, version, profile_name, status)
    problems = lint(spec)
    if problems:
        raise SpecError(problems)
    return spec


# ── building ──────────────────────────────────────────────────────────


def _requirement(value: Any, where: str) -> dict[str, Any]:
    """``R`` / ``O`` / null (inherit) / mapping → a mapping of field attributes."""
    if value is None:
        return {}
    if value in ("R", "O"):
        return {"required": value == "R"}
    if isinstance(value, dict):
        return dict(value)
    raise SpecError([f"{where}: expected R, O or a mapping, got {value!r}"])


def _field(name: str, attrs: Mapping[str, Any], where: str) -> Field:
    if "form" not in attrs:
        raise SpecError([f"{where}: field {name} is not in the dictionary and gives no form"])
    when = attrs.get("required_when")
    return Field(
        name=name,
        zh=str(attrs.get("zh", name)),
        form=Form.parse(str(attrs["form"])),
        required=bool(attrs.get("required", False)),
        required_when={str(k): str(v) for k, v in when.items()} if when else None,
        code=attrs.get("code"),
        format=attrs.get("format"),
        wire=tuple(attrs.get("wire", ())),
        note=str(attrs.get("note", "")),
        example=attrs.get("example"),
        required_if_input_has=attrs.get("required_if_input_has"),
        required_unless_success=bool(attrs.get("required_unless_success", False)),
    )


def _node(
    key: str, raw: Mapping[str, Any], shared: Mapping[str, Any], dictionary: Mapping[str, Any], where: str
) -> Node:
    raw = dict(raw or {})
    fields: dict[str, dict[str, Any]] = {}
    if "use" in raw:
        ref = shared.get(raw["use"])
        if ref is None:
            raise SpecError([f"{where}: node {key} uses unknown shared node {raw['use']!r}"])
        fields = {n: _requirement(v, where) for n, v in (ref.get("fields") or {}).items()}
        if "pick" in raw:
            fields = {n: fields[n] for n in raw["pick"] if n in fields}
        for n in raw.get("omit", ()):
            fields.pop(n, None)
        raw = {**{k: v for k, v in ref.items() if k != "fields"}, **raw}
    for n, v in (raw.get("fields") or {}).items():
        fields[n] = {**fields.get(n, {}), **_requirement(v, where)}
    name = key.removesuffix("[]")
    return Node(
        name=name,
        fields={
            n: _field(n, {**dictionary.get(n, {}), **attrs}, f"{where}.{name}") for n, attrs in fields.items()
        },
        array=key.endswith("[]"),
        optional=bool(raw.get("optional", False)),
        flat=bool(raw.get("flat", False)),
        note=str(raw.get("note", "")),
    )


def _transaction(
    raw: Mapping[str, Any], shared: Mapping[str, Any], dictionary: Mapping[str, Any]
) -> Transaction:
    infno = str(raw["infno"])

    def nodes(direction: str) -> dict[str, Node]:
        built = (
            _node(k, v, shared, dictionary, f"{infno}.{direction}")
            for k, v in (raw.get(direction) or {}).items()
        )
        return {n.name: n for n in built}

    return Transaction(
        infno=infno,
        zh=str(raw["zh"]),
        en=str(raw.get("en", "")),
        route=tuple(raw["route"]),
        input=nodes("input"),
        output=nodes("output"),
        service_path=raw.get("service_path"),
        reversible=bool(raw.get("reversible", False)),
        query=bool(raw.get("query", False)),
        yidi=bool(raw.get("yidi", False)),
        response_media=str(raw.get("response_media", "application/json")),
        errors=tuple(raw.get("errors", ())),
        rules=tuple(raw.get("rules", ())),
        note=str(raw.get("note", "")).strip(),
        source=str(raw.get("source", "")),
    )


def _machine(name: str, raw: Mapping[str, Any]) -> Machine:
    def transition(t: Mapping[str, Any], infno: str | None = None) -> Transition:
        return Transition(
            infno=str(infno or t["infno"]),
            from_states=frozenset(t.get("from", ())),
            to=t.get("to"),
            when=t.get("when"),
            undoes=str(t["undoes"]) if "undoes" in t else None,
            refuse={str(k): str(v) for k, v in (t.get("refuse") or {}).items()},
        )

    return Machine(
        name=name,
        zh=str(raw["zh"]),
        initial=str(raw["initial"]),
        states={s: (str(v["zh"]), str(v["en"])) for s, v in raw["states"].items()},
        final=frozenset(raw.get("final", ())),
        transitions=tuple(transition(t) for t in raw["transitions"]),
        reversal={str(k): transition(v, str(k)) for k, v in (raw.get("reversal") or {}).items()},
    )


_METRICS = ("p95_ms", "p99_ms", "error_rate")


def _targets(service: Any) -> dict[str, Target]:
    """``service.targets`` as Targets; each entry takes what it leaves out from ``default``."""
    raw = service.get("targets") if isinstance(service, Mapping) else service
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SpecError([f"service.targets: expected a mapping of Locust request names, got {raw!r}"])
    entries: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for name, entry in raw.items():
        if not isinstance(entry, Mapping):
            problems.append(f"service.targets.{name}: expected a mapping of {', '.join(_METRICS)}")
            continue
        for metric, value in entry.items():
            if metric not in _METRICS:
                problems.append(f"service.targets.{name}: unknown metric {metric!r} ({', '.join(_METRICS)})")
            elif value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                problems.append(f"service.targets.{name}.{metric}: expected a number, got {value!r}")
        entries.setdefault(str(name), {}).update(entry)  # a profile's 2304 (unquoted) patches '2304'
    if problems:
        raise SpecError(problems)
    default = entries.get(DEFAULT_TARGET, {})
    return {
        name: Target(**{m: None if v is None else float(v) for m, v in {**default, **entry}.items()})
        for name, entry in entries.items()
    }


def _build(raw: Mapping[str, Any], version: str, profile: str, status: str) -> Spec:
    head = raw["spec"]
    dictionary = raw["dictionary"]
    env = raw["envelope"]
    return Spec(
        name=str(head["name"]),
        zh=str(head["zh"]),
        en=str(head["en"]),
        version=version,
        profile=profile,
        status=status,
        roles={k: Role(k, str(v["zh"]), str(v["en"])) for k, v in head["roles"].items()},
        semantics=dict(head.get("semantics") or {}),
        request={n: _field(n, a, "envelope.request") for n, a in env["request"].items()},
        response={n: _field(n, a, "envelope.response") for n, a in env["response"].items()},
        transport=raw["transport"],
        formats={k: Format(k, str(v["pattern"]), str(v["zh"])) for k, v in raw["formats"].items()},
        codes={
            k: CodeTable(
                k,
                str(v["zh"]),
                {str(c): str(n) for c, n in (v.get("values") or {}).items()},
                bool(v.get("closed", True)),
                v.get("local"),
                bool(v.get("yidi", False)),
            )
            for k, v in raw["codes"].items()
        },
        errors={
            k: ErrorDef(
                k,
                int(v["infcode"]),
                str(v["zh"]),
                str(v["en"]),
                str(v.get("rule", "")),
                v.get("severity", "error"),
            )
            for k, v in raw["errors"].items()
        },
        rules={
            k: Rule(
                k,
                v["kind"],
                str(v["zh"]),
                str(v["en"]),
                tuple(map(str, v.get("targets", ()))),
                v.get("check"),
                v.get("when"),
                str(v.get("error", "E5001")),
                str(v.get("source", "")),
            )
            for k, v in raw["rules"].items()
        },
        guards={k: (str(v["zh"]), str(v["en"])) for k, v in raw["lifecycle"]["guards"].items()},
        machines={k: _machine(k, v) for k, v in raw["lifecycle"]["machines"].items()},
        transactions={k: _transaction(v, raw["nodes"], dictionary) for k, v in raw["transactions"].items()},
        targets=_targets(raw["service"]),
    )


# ── consistency ───────────────────────────────────────────────────────

_RULE_TARGET = re.compile(
    r"^(?:request|response|(?P<infno>[0-9A-Z]+)\.(?P<dir>input|output)\.(?P<node>\w+)(?:\[\])?)$"
)


def _all_fields(spec: Spec) -> Iterable[tuple[str, Field, Node | None]]:
    for name, f in {**spec.request, **spec.response}.items():
        yield f"envelope.{name}", f, None
    for txn in spec.transactions.values():
        for direction in ("input", "output"):
            for node in txn.nodes(direction).values():
                for f in node.fields.values():
                    yield f"{txn.infno}.{direction}.{node.label}.{f.name}", f, node


def lint(spec: Spec) -> list[str]:
    """Every dangling reference in the spec (codes, formats, conditions, errors, rules, life-cycle, service
    targets) and every service target that is not a number ≥ 0."""
    problems: list[str] = []
    for where, f, node in _all_fields(spec):
        if f.code and f.code not in spec.codes:
            problems.append(f"{where}: unknown code table {f.code!r}")
        if f.format and f.format not in spec.formats:
            problems.append(f"{where}: unknown format {f.format!r}")
        for other in f.required_when or {}:
            if node is not None and other not in node.fields:
                problems.append(f"{where}: required_when names {other!r}, which is not in the node")
    for txn in spec.transactions.values():
        for role in txn.route:
            if role not in spec.roles:
                problems.append(f"{txn.infno}: unknown role {role!r}")
        problems += [f"{txn.infno}: unknown error {e}" for e in txn.errors if e not in spec.errors]
        problems += [f"{txn.infno}: unknown rule {r}" for r in txn.rules if r not in spec.rules]
    for rule in spec.rules.values():
        for target in rule.on:
            m = _RULE_TARGET.match(target)
            if not m:
                problems.append(f"{rule.id}: malformed target {target!r}")
            elif m["infno"] in spec.transactions and m["node"] not in spec.transaction(m["infno"]).nodes(
                m["dir"]
            ):
                problems.append(f"{rule.id}: {target} names a node the transaction does not have")
        if rule.kind == "message" and not (rule.check and rule.on):
            problems.append(f"{rule.id}: a message rule needs a check and targets")
        if rule.error not in spec.errors:
            problems.append(f"{rule.id}: unknown error {rule.error}")
        for text in filter(None, (rule.check, rule.when)):
            try:
                compile_expression(text)
            except (SyntaxError, RuleSyntaxError) as e:
                problems.append(f"{rule.id}: {e}")
    for err in spec.errors.values():
        if err.rule and not err.rule.startswith("{") and err.rule not in spec.rules:
            problems.append(f"{err.code}: unknown rule {err.rule}")
    for machine in spec.machines.values():
        for t in (*machine.transitions, *machine.reversal.values()):
            states = set(t.from_states) | ({t.to} if isinstance(t.to, str) and t.to != "$same" else set())
            if isinstance(t.to, Mapping):
                states |= set(t.to.values())
                problems += [
                    f"{machine.name} {t.infno}: unknown guard {g!r}"
                    for g in t.to
                    if g != "otherwise" and g not in spec.guards
                ]
            problems += [
                f"{machine.name} {t.infno}: unknown state {s!r}" for s in states - set(machine.states)
            ]
            if t.infno not in spec.transactions:
                problems.append(f"{machine.name}: transition for unknown transaction {t.infno}")
            if t.when and t.when not in spec.guards:
                problems.append(f"{machine.name} {t.infno}: unknown guard {t.when!r}")
            problems += [
                f"{machine.name} {t.infno}: refuse names unknown error {e}"
                for e in t.refuse.values()
                if e not in spec.errors
            ]
    return problems + _lint_targets(spec)


def _lint_targets(spec: Spec) -> list[str]:
    problems: list[str] = []
    for name, target in spec.targets.items():
        if name not in (DEFAULT_TARGET, *EPISODES) and name not in spec.transactions:
            problems.append(f"service.targets: {name!r} is neither an infno of the spec nor an episode")
        for metric in _METRICS:
            value = getattr(target, metric)
            if value is not None and not value >= 0:
                problems.append(f"service.targets.{name}.{metric}: {value:g} is not a number ≥ 0")
        rate = target.error_rate
        if rate is not None and rate > 1:
            problems.append(
                f"service.targets.{name}.error_rate: {rate:g} is over 1 (a fraction: 0.001 = 0.1 %)"
            )
    return problems
