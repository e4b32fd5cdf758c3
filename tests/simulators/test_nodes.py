"""The nodes as their families make them (simulators/treatment/node.py, simulators/insured/node.py): the
handlers the families supply together are every transaction the spec routes to the node
(province↔hub and agency transactions for the insured side, hospital ones for the treatment side)."""

from __future__ import annotations

from yidi.simulators.app import Simulation


def test_the_treatment_families_answer_every_hospital_transaction(sim: Simulation) -> None:
    hospital = {infno for infno in sim.spec.transactions if not infno.startswith("Y")}
    not_simulated = {"2501", "2502"}  # a hospital's own filing: filings are made at the insured side (Y2501)
    for node in sim.treatment.values():
        assert set(node.handlers) == hospital - not_simulated


def test_the_insured_families_answer_every_transaction_routed_to_the_insured_side(sim: Simulation) -> None:
    routed = {
        infno
        for infno, t in sim.spec.transactions.items()
        if infno.startswith("Y") and t.route and t.route[-1] == "insured"
    }
    for node in sim.insured.values():
        assert set(node.handlers) == routed
