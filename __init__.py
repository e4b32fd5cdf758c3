"""yidi — conformance and joint-testing harness for cross-province direct settlement
(跨省异地就医直接结算)."""

__version__ = "0.1.0"
