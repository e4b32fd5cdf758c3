"""The joint-test catalogue (联调测试) as pytest suites, one folder per role under test (issue 4)."""
