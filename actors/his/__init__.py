"""A hospital HIS client: signs and sends every transaction as real HIS clients do, and performs whole
episodes (9001 → 1101 → 2401 → 2301 in batches → 2402 → 2303 → 2304; 2601 when an answer is lost),
outpatient visits, and the back office's clearing and reconciliation.

Each message starts from the spec's own example of its nodes (so its shape comes from the spec) with
the episode's real values set on top. Synchronous (httpx), so suites, the CLI and Locust share it.
"""

from __future__ import annotations

from .back_office import BackOffice
from .inpatient import Inpatient
from .model import Episode, Hospital, Insured, LostAnswer, Refused, Reply, card_read, credential, msgids
from .outpatient import Outpatient

__all__ = [
    "Episode",
    "His",
    "Hospital",
    "Insured",
    "LostAnswer",
    "Refused",
    "Reply",
    "card_read",
    "credential",
    "msgids",
]


class His(Inpatient, Outpatient, BackOffice):
    """A HIS: every transaction of a stay, a visit and the back office, over one signed client."""
