"""The review queue (issue 16): citizens' questions the bot could not serve well, grouped by wording, for
officers to link to a procedure, mark out of scope or flag for a new FAQ entry, and for supervisors to approve.

- :mod:`core.review.signals` finds the questions in Rasa's tracker events (shared with the console's analytics);
- :mod:`core.review.queue` stores them (masked) and the officers' and supervisors' decisions;
- :mod:`core.review.approved` writes approved links as question-bank lines to a runtime file.
"""
