"""Synthetic identities for test persons: 18-digit ID numbers with a valid check digit (GB 11643),
Chinese names (faker, zh_CN), social-security card numbers and card_sn. Deterministic per roster key
and seed, so a roster is the same on every machine and every run.
"""

from __future__ import annotations

import functools
import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def valid_certno(certno: str) -> bool:
    if len(certno) != 18 or not certno[:17].isdigit():
        return False
    try:
        date(int(certno[6:10]), int(certno[10:12]), int(certno[12:14]))
    except ValueError:
        return False
    return certno[17].upper() == check_digit(certno[:17])


def certno(region: str, born: date, sequence: int, male: bool) -> str:
    """An ID number: region (6) + birth date (8) + sequence (3, odd for men) + check digit."""
    seq = sequence % 500 * 2 + (1 if male else 0)
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + check_digit(first17)


@dataclass(frozen=True)
class Made:
    psn_no: str
    name: str
    certno: str
    gend: str  # 1 男 · 2 女
    brdy: date
    cardno: str
    card_sn: str


@functools.cache
def _faker() -> Faker:
    return Faker("zh_CN")


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def make(key: str, insured: str, seed: int, *, gender: str | None = None, born: date | None = None) -> Made:
    rng = _rng(seed, key)
    male = gender == "1" if gender else rng.random() < 0.5
    born = born or date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 80))
    fake = _faker()
    fake.seed_instance(rng.randrange(2**32))
    county = f"{insured[:4]}{rng.randrange(2, 30):02d}"
    number = rng.randrange(10**13)
    return Made(
        psn_no=f"{insured}2{number:013d}",
        name=fake.last_name() + (fake.first_name_male() if male else fake.first_name_female()),
        certno=certno(county, born, rng.randrange(500), male),
        gend="1" if male else "2",
        brdy=born,
        cardno=f"{chr(65 + rng.randrange(26))}{rng.randrange(10**8):08d}",
        card_sn=f"{insured}D156{rng.randrange(10**6):06d}{rng.getrandbits(64):016X}",
    )


def filing_sn(insured: str, key: str, index: int) -> str:
    """A trt_dcla_detl_sn for a filing in the topology (30 characters at most)."""
    return f"T{insured}{_rng(key, index).randrange(10**16):016d}{index:02d}"


def ectoken(psn_no: str) -> str:
    """The e-voucher token (医保电子凭证令牌) the card reader hands out for a person (mdtrt_cert_type 01)."""
    return "EC" + hashlib.sha256(f"ectoken:{psn_no}".encode()).hexdigest()[:30].upper()
