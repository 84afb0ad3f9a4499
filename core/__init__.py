"""The domain core: knowledge service, status, feedback, handoff, rating, privacy, office hours.

Imports no adapter (actions, channels, console, staff API, scripts); they import it.
"""
