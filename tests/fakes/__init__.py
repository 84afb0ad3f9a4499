"""Local fakes of external systems (speaking their real protocols) and database fixtures for tests."""
