"""A Rasa SQL tracker store written by hand: the ``events`` table of Rasa 3.6's SQLTrackerStore in a SQLite file,
filled with the events a conversation leaves (what the console's analytics and retention job read)."""

from __future__ import annotations

import json
import sqlite3

# The "talk to an officer" button the knowledge action adds when it cannot answer.
ABSTAIN_BUTTONS = [{"title": "Gặp cán bộ hỗ trợ", "payload": "/request_human"}]


class Tracker:
    """Writes events the way Rasa's SQLTrackerStore does (type_name, intent_name, action_name, JSON data)."""

    def __init__(self, path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
                          "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                          "action_name VARCHAR(255), data TEXT)")

    def _add(self, sender, type_name, at, data, intent=None, action=None):
        ts = at.timestamp()
        data = {"event": type_name, "timestamp": ts, **data}
        self.conn.execute("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                          "VALUES (?, ?, ?, ?, ?, ?)", (sender, type_name, ts, intent, action, json.dumps(data)))

    def user(self, sender, at, text, intent):
        self._add(sender, "user", at, {"text": text, "parse_data": {"intent": {"name": intent}}}, intent=intent)

    def action(self, sender, at, name):
        self._add(sender, "action", at, {"name": name}, action=name)

    def bot(self, sender, at, text, buttons=None):
        self._add(sender, "bot", at, {"text": text, "data": {"buttons": buttons}})

    def slot(self, sender, at, name, value):
        self._add(sender, "slot", at, {"name": name, "value": value}, action=name)

    def answer(self, sender, at, text, code, name, confidence=None):
        """The knowledge action answering ``text`` with procedure ``code``; ``confidence``: the search's calibrated
        confidence it records in the slot ``answer_confidence`` (None: no such slot event)."""
        self.user(sender, at, text, "ask_procedure")
        self.action(sender, at, "action_answer_procedure")
        self.bot(sender, at, f"Thủ tục {name} ...")  # Rasa records the messages first, then the events returned
        if confidence is not None:
            self.slot(sender, at, "answer_confidence", confidence)
        self.slot(sender, at, "procedure_code", code)
        self.slot(sender, at, "procedure_name", name)
        self.action(sender, at, "action_listen")

    def abstain(self, sender, at, text):
        self.user(sender, at, text, "ask_procedure")
        self.action(sender, at, "action_answer_procedure")
        self.bot(sender, at, "Xin lỗi, tôi chưa có thông tin về nội dung này ...", ABSTAIN_BUTTONS)
        self.action(sender, at, "action_listen")

    def fallback(self, sender, at, text):
        self.user(sender, at, text, "nlu_fallback")
        self.action(sender, at, "action_handle_fallback")
        self.bot(sender, at, "Xin lỗi, tôi chưa hiểu ý bạn.")
        self.action(sender, at, "action_listen")

    def close(self):
        self.conn.commit()
        self.conn.close()
