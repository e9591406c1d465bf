from tests.workflows.conftest import make_harness  # noqa: F401  (the capture script uses it)
