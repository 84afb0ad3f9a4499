"""Makes the repository root importable for every test (pytest puts this file's folder on sys.path)."""
