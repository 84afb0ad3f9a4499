"""Services behind the thin Rasa actions (knowledge search, answer formatting, ...)."""
