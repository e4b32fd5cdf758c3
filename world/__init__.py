"""The world a joint test runs in: provinces, regions and hospitals with their credentials, test persons
with their cards and filings (真人真卡), catalogs and benefit policies, and the simulated clock. Data that
the simulators, the suites and the load users all read alike."""
