"""Overlays: versions and regional profiles are patches on the base spec, in its own YAML shape.

A patch follows JSON Merge Patch (RFC 7386): mappings merge, ``null`` removes, anything else
replaces. Two operations go beyond it, under a transaction: ``rename`` renames nodes in place
(``{rename: {input: {data: mdtrtinfo}}}``) and ``copy`` starts a new transaction from another.
"""

from __future__ import annotations

import copy
from typing import Any

PATCHABLE = (
    "envelope",
    "dictionary",
    "nodes",
    "codes",
    "errors",
    "rules",
    "lifecycle",
    "formats",
    "transport",
    "service",
)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 merge of ``patch`` into a copy of ``target``."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply(raw: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """The raw spec with one overlay applied (``raw`` is left untouched)."""
    out = dict(raw)
    for key in PATCHABLE:
        if key in overlay:
            out[key] = merge_patch(raw[key], overlay[key])
    if "semantics" in overlay:
        out["spec"] = merge_patch(raw["spec"], {"semantics": overlay["semantics"]})
    if "transactions" in overlay:
        out["transactions"] = _patch_transactions(raw["transactions"], overlay["transactions"])
    return out


def _patch_transactions(txns: dict[str, Any], patches: dict[str, Any]) -> dict[str, Any]:
    out = dict(txns)
    for infno, patch in patches.items():
        infno = str(infno)
        if patch is None:
            out.pop(infno, None)
            continue
        patch = dict(patch)
        source = str(patch.pop("copy")) if "copy" in patch else infno
        if source not in txns:
            raise KeyError(f"overlay patches transaction {source}, which the spec does not have")
        base = txns[source]
        for direction, names in patch.pop("rename", {}).items():
            base = {**base, direction: _rename_nodes(base.get(direction) or {}, names)}
        out[infno] = merge_patch(base, patch)
    return out


def _rename_nodes(nodes: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    def renamed(key: str) -> str:
        bare = key.removesuffix("[]")
        return names[bare] + key[len(bare) :] if bare in names else key

    missing = set(names) - {k.removesuffix("[]") for k in nodes}
    if missing:
        raise KeyError(f"rename names nodes that do not exist: {sorted(missing)}")
    return {renamed(key): value for key, value in nodes.items()}
