"""The world file checked against its schema (``schema.yaml``) before anything reads it: an unknown key, a
missing value or a value of the wrong kind is one error naming the file, the place in it and what is
expected there."""

from __future__ import annotations

import functools
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match


class WorldError(ValueError):
    """A world file that cannot be used: where, and what is wrong."""

    def __init__(self, file: Path | str, where: str, what: str) -> None:
        super().__init__(f"{file}: {where}: {what}" if where else f"{file}: {what}")
        self.file, self.where, self.what = str(file), where, what


@functools.cache
def validator(part: str | None = None) -> Draft202012Validator:
    """The world's validator, or one of a part of it (``policy``: a policy file's entry on its own)."""
    schema = yaml.safe_load(resources.files("yidi.world").joinpath("schema.yaml").read_text(encoding="utf-8"))
    if part is not None:
        schema = {"$ref": f"#/$defs/{part}", "$defs": schema["$defs"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def as_json(value: Any) -> Any:
    """YAML's values as JSON has them: dates and date keys as ISO text, every key text (``2026:`` is a year
    written as a number, ``'1':`` a level)."""
    if isinstance(value, dict):
        return {as_json(k) if isinstance(k, date) else str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def check(raw: Any, file: Path | str, part: str | None = None) -> None:
    """Raise :class:`WorldError` for the most telling way ``raw`` breaks the schema (or a ``part`` of it)."""
    if part is None and not isinstance(raw, dict):
        kind = type(raw).__name__
        raise WorldError(file, "", f"a world is a mapping (name, hub, items, provinces, persons), not {kind}")
    error = best_match(validator(part).iter_errors(as_json(raw)))
    if error is not None:
        raise WorldError(file, _where(error), _what(error))


def _where(error: ValidationError) -> str:
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in error.absolute_path).replace(
        ".[", "["
    )


def _what(error: ValidationError) -> str:
    described = str(error.schema.get("description") or "") if isinstance(error.schema, dict) else ""
    return error.message + (f" (expected: {described})" if described else "")
