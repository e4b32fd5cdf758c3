"""Validation cost per message, for the library yidi uses against the alternatives, in one run.

    python bench/validation.py [--seconds 0.5]

Messages: a 2301 request with 100 fee lines and a 2304 response, both built from the spec and
valid. The three libraries validate the same compiled schema. yidi's hot path runs jsonschema-rs on
that schema without fractional multipleOf (jsonschema-rs checks it exactly but slowly) plus a
generated decimal-scale check; `validate()` adds the message rules (the money invariants). Ratios
are against jsonschema-rs on the full schema, measured in the same run, because this machine is
noisy. The last column says whether the library accepts these valid messages.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import fastjsonschema
import jsonschema
import jsonschema_rs

from yidi.specs import compiler, examples, loader
from yidi.specs.validate import validate, validator


def fee_upload(spec: Any, lines: int) -> dict[str, Any]:
    message = examples.request(spec, "2301")
    template = message["input"]["feedetail"][0]
    feedetail = []
    for i in range(lines):
        cnt, pric = float(i % 7 + 1), 12.34 + i
        feedetail.append(
            {
                **template,
                "feedetl_sn": f"F{i:010d}",
                "cnt": cnt,
                "pric": pric,
                "det_item_fee_sumamt": round(cnt * pric, 2),
            }
        )
    message["input"]["feedetail"] = feedetail
    return message


def per_call_us(fn: Callable[[], object], seconds: float) -> float:
    """Median of five timed batches, each about seconds/5 long, in µs per call."""
    n = 1
    while True:  # size a batch
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if (elapsed := time.perf_counter() - start) > seconds / 50:
            break
        n *= 2
    batch = max(1, int(n * (seconds / 5) / elapsed))
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - start) / batch * 1e6)
    return statistics.median(samples)


def contenders(
    spec: Any, infno: str, response: bool, message: dict[str, Any]
) -> list[tuple[str, Callable[[], object]]]:
    schema = compiler.schema(spec, infno, response=response)
    rs = jsonschema_rs.validator_for(schema)
    py = jsonschema.Draft202012Validator(schema)
    fast = fastjsonschema.compile(schema)
    hot = validator(spec, infno, response=response, fast=True)
    scale = compiler.scale_check(spec, infno, response=response)

    def fast_ok() -> bool:
        try:
            fast(message)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return [
        ("jsonschema-rs, full schema", lambda: rs.is_valid(message)),
        ("fastjsonschema, full schema", fast_ok),
        ("jsonschema (Python), full schema", lambda: py.is_valid(message)),
        ("yidi hot path: rs fast + scale", lambda: hot.is_valid(message) and scale(message)),
        (
            "yidi validate(): + money rules",
            lambda: validate(spec, message, infno=infno, response=response).valid,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    args = parser.parse_args()
    spec = loader.load()
    cases = [
        ("2301 request, 100 fee lines", "2301", False, fee_upload(spec, 100)),
        ("2304 response", "2304", True, examples.response(spec, "2304")),
    ]
    libraries = ("jsonschema-rs", "fastjsonschema", "jsonschema")
    print(f"spec {spec.ref}; " + ", ".join(f"{p} {metadata.version(p)}" for p in libraries))
    print(f"{'message':30} {'validator':34} {'µs/msg':>10} {'× rs':>8}  accepts")
    for title, infno, response, message in cases:
        baseline = None
        for name, fn in contenders(spec, infno, response, message):
            us = per_call_us(fn, args.seconds)
            baseline = baseline or us
            print(f"{title:30} {name:34} {us:10.1f} {us / baseline:8.2f}  {'yes' if fn() else 'NO'}")
            title = ""


if __name__ == "__main__":
    main()
