# tests/data holds inputs for the tests (a notebook that fails on purpose), not tests to collect.
collect_ignore_glob = ["data/*"]
