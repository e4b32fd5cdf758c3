from __future__ import annotations

from decimal import Decimal

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from yidi.specs import compiler, examples, loader
from yidi.specs.model import Field, Form, Spec
from yidi.specs.validate import validate


def test_every_compiled_schema_is_a_valid_draft_2020_12_schema(spec: Spec) -> None:
    for infno in spec.transactions:
        for response in (False, True):
            for strict in (False, True):
                jsonschema.Draft202012Validator.check_schema(
                    compiler.schema(spec, infno, response=response, strict=strict)
                )


def test_the_schema_is_cached_per_spec(spec: Spec) -> None:
    assert compiler.schema(spec, "2304") is compiler.schema(spec, "2304")


def _amount_message(spec: Spec, amount: float) -> dict[str, object]:
    message = examples.request(spec, "3201")
    message["input"]["data"]["medfee_sumamt"] = amount  # num(16,2), no rule ties it to anything
    return message


@given(st.decimals(min_value=Decimal("-99999999999999.99"), max_value=Decimal("99999999999999.99"), places=2))
def test_any_amount_with_two_decimals_is_accepted(amount: Decimal) -> None:
    spec = loader.load()
    assert validate(spec, _amount_message(spec, float(amount))).valid


@given(
    st.decimals(min_value=Decimal("-9999999"), max_value=Decimal("9999999"), places=3).filter(
        lambda d: d != d.quantize(Decimal("0.01"))
    )
)
def test_an_amount_with_a_third_decimal_is_refused(amount: Decimal) -> None:
    spec = loader.load()
    issues = validate(spec, _amount_message(spec, float(amount))).errors
    assert [(i.code, i.path) for i in issues] == [("E1006", "input.data.medfee_sumamt")]


@pytest.mark.parametrize("amount", [0.07, 0.29, 1.1, 23442.46, -3379.26, 99999999999999.99])
def test_amounts_that_binary_floats_get_wrong_are_accepted(amount: float) -> None:
    # Python jsonschema rejects 0.07 under multipleOf 0.01; jsonschema-rs does not.
    spec = loader.load()
    assert validate(spec, _amount_message(spec, amount)).valid


def test_an_optional_field_accepts_absent_null_and_empty_but_not_garbage(spec: Spec) -> None:
    f = Field("brdy", "出生日期", Form("date"))
    s = compiler.field_schema(spec, f)
    check = jsonschema.Draft202012Validator(s).is_valid
    assert check(None) and check("") and check("1956-03-12")
    assert not check("1956-3-12") and not check(19560312)
    required = compiler.field_schema(spec, f, required=True)
    assert not jsonschema.Draft202012Validator(required).is_valid("")


def test_strict_schemas_close_objects_and_enumerate_open_code_tables(spec: Spec) -> None:
    lenient = compiler.schema(spec, "1101", response=True)
    strict = compiler.schema(spec, "1101", response=True, strict=True)
    baseinfo = lambda s: s["then"]["properties"]["output"]["properties"]["baseinfo"]  # noqa: E731
    assert (
        "additionalProperties" not in baseinfo(lenient) and baseinfo(strict)["additionalProperties"] is False
    )
    assert "pattern" not in baseinfo(lenient)["properties"]["naty"]
    assert baseinfo(strict)["properties"]["naty"]["x-open-code"] is True
