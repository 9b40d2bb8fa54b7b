from eicore.testing.pytest_plugin import eibench  # noqa: F401
