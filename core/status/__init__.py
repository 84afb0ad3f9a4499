"""Application status lookup (tra cứu hồ sơ): models, backends (SQLite, PostgreSQL, HTTP), rate limit, answer."""
