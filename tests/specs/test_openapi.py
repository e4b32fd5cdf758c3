from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from yidi.specs import examples, loader
from yidi.specs.model import Spec
from yidi.specs.openapi import document


@pytest.mark.parametrize("addressing", ["infno", "service", "both"])
def test_the_export_is_valid_openapi_3_1(spec: Spec, addressing: str) -> None:
    doc = document(spec, addressing=addressing)
    validate_openapi(doc)
    assert doc["openapi"] == "3.1.0" and doc["info"]["version"] == "V1.0"
    with_service_path = [t for t in spec.transactions.values() if t.service_path]
    expected = {
        "infno": len(spec.transactions),
        "service": len(with_service_path),
        "both": len(spec.transactions) + len(with_service_path),
    }[addressing]
    assert len(doc["paths"]) == expected


def test_profiles_export_too() -> None:
    validate_openapi(document(loader.load("V1.1+guangzhou")))


def test_operations_carry_the_gateway_headers_and_the_route(spec: Spec) -> None:
    doc = document(spec)
    schemes = doc["components"]["securitySchemes"]
    assert {s["name"] for s in schemes.values()} == {
        "x-tif-paasid",
        "x-tif-timestamp",
        "x-tif-nonce",
        "x-tif-signature",
    }
    op = doc["paths"]["/Y2304"]["post"]
    assert op["tags"] == ["insured"] and op["x-yidi-route"] == ["treatment", "hub", "insured"]
    assert "yidi-defined" in op["description"]
    download = doc["paths"]["/9102"]["post"]["responses"]["200"]["content"]
    assert set(download) == {"application/octet-stream", "application/json"}


def test_exported_schemas_work_with_python_jsonschema_as_schemathesis_uses_them(spec: Spec) -> None:
    doc = document(spec)
    assert '"multipleOf"' not in json.dumps(doc)  # Python jsonschema gets float multipleOf wrong
    request = doc["paths"]["/2304"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    response = doc["paths"]["/2304"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    message = examples.request(spec, "2304")
    message["input"]["data"]["fulamt_ownpay_amt"] = 0.07
    jsonschema.Draft202012Validator(request).validate(message)
    jsonschema.Draft202012Validator(response).validate(examples.response(spec, "2304"))
    message["input"]["data"]["psn_no"] = "x" * 31
    assert not jsonschema.Draft202012Validator(request).is_valid(message)


def test_schemathesis_generates_a_request_for_every_operation(spec: Spec) -> None:
    import schemathesis

    loaded = schemathesis.openapi.from_dict(document(spec))
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) == len(spec.transactions)
    for operation in operations:
        bodies = _generated(operation)
        assert bodies and isinstance(bodies[0], dict), operation.path


def _generated(operation: Any) -> list[object]:
    from hypothesis import HealthCheck, given, settings

    bodies: list[object] = []

    @settings(max_examples=1, suppress_health_check=list(HealthCheck), deadline=None, database=None)
    @given(operation.as_strategy())
    def generate(case: Any) -> None:
        bodies.append(case.body)

    generate()
    return bodies
