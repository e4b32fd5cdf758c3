"""The suites' pytest plugin (options --sut-role, --sut-url, --spec, --profile, --roster, --mutant, --cases)
for whoever runs pytest from the repository root: ``pytest suites/ ...``."""

pytest_plugins = ["yidi.suites.plugin"]
