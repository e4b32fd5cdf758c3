"""Locust users and load shapes that reproduce real daily peaks, with ledger checks (issue 5)."""
