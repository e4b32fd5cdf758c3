from __future__ import annotations

import pytest

from yidi.specs.rules import RuleSyntaxError, compile_expression, evaluate


def _eval(
    text: str,
    values: dict[str, object],
    numeric: frozenset[str] = frozenset({"a", "b", "c"}),
    context: dict[str, object] | None = None,
) -> bool:
    return evaluate(text, values, numeric=numeric, context=context)


def test_equality_is_to_the_cent() -> None:
    assert _eval("a == b + c", {"a": 0.3, "b": 0.1, "c": 0.2})
    assert not _eval("a == b + c", {"a": 0.31, "b": 0.1, "c": 0.2})
    assert _eval("a != b", {"a": 1.0, "b": 1.01})


def test_missing_amounts_count_as_zero_and_context_fills_the_rest() -> None:
    assert _eval("a == b + c", {"a": 5, "b": 5, "c": None})
    assert _eval("a == b + c", {"a": 5, "b": 5, "c": ""})
    assert _eval("a - (b if flag else 0) == 0", {"a": 2, "b": 2}, context={"flag": True})
    assert _eval("coalesce(x, y) == 3", {"y": 3}, numeric=frozenset({"x", "y"}))


def test_string_helpers() -> None:
    assert _eval(
        "startswith(msgid, code) and valid_stamp(msgid[12:26])",
        {"msgid": "H51010000001202611101030000001", "code": "H51010000001"},
    )
    assert not _eval("valid_stamp(msgid[12:26])", {"msgid": "H51010000001202613101030000001"})


@pytest.mark.parametrize(
    "text",
    [
        "a.__class__",
        "__import__('os')",
        "open('x')",
        "[x for x in a]",
        "lambda: 1",
        "a[0].b",
        "exec('1')",
        "_eq == 1",
        "a; b",
    ],
)
def test_anything_beyond_the_small_language_is_refused(text: str) -> None:
    with pytest.raises((RuleSyntaxError, SyntaxError)):
        compile_expression(text)


def test_a_rule_that_cannot_use_a_value_reports_instead_of_raising() -> None:
    from yidi.specs import examples, loader
    from yidi.specs.rules import check_message

    spec = loader.load()
    message = examples.request(spec, "2301")
    message["input"]["feedetail"][0]["cnt"] = "abc"  # not schema-valid; rules must still not raise
    (violation,) = check_message(spec, "2301", message, response=False)
    assert violation.rule.id == "R-AMT-05" and "cannot evaluate" in violation.detail
