"""The machine-readable interface specification and the tools around it (loader, compiler, validator).

Knows nothing of HTTP: simulators, suites and load users all consume it.
"""
