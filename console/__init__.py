"""The help-desk console for staff (issue 6): search, handoff inbox, status, feedback, analytics."""
