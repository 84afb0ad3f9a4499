"""Makes the repository root importable for every test (pytest puts this file's folder on sys.path) and registers
the shared fixtures of ``tests/fakes`` that every suite may use."""

pytest_plugins = ["tests.fakes.settings"]
