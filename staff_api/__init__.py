"""Staff HTTP API for the help desk: handoff tickets and feedback statuses (``python -m staff_api``)."""
