"""Rasa's SQL tracker store, made to survive a database restart and to fail loudly rather than forget.

Used by both profiles (``tracker_store: type: channels.tracker_store.ReconnectingSQLTrackerStore`` with the usual
SQLTrackerStore settings: SQLite in ``endpoints.yml``, PostgreSQL in the scaled profile). Two problems of the stock
store:

* Its connection pool keeps connections across a server restart; the first query on each then fails. Here the
  engine uses SQLAlchemy's ``pool_pre_ping``: a dead pooled connection is replaced before use.
* Rasa wraps every tracker store in ``FailSafeTrackerStore``, which turns a failed ``retrieve`` into "no tracker":
  the turn is answered as if the conversation had just begun (a form in progress is forgotten), and a failed
  ``save`` (e.g. a full disk under the SQLite file) into a log line while the citizen gets an answer, or a form's
  acknowledgement, that the conversation then forgets.
  This store marks the failure on the turn it happens in (channels/turn.py); the channels (REST, Zalo,
  socket.io) then replace that turn's context-less answer with an apology, or send it after the answer already
  delivered. A failure in another conversation running at the same time does not touch this turn. It also
  re-raises failures without the driver's message, which quotes SQL parameters, i.e. the citizen's words, into
  Rasa's error log.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Optional, Text

from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker

from channels.turn import record_tracker_store_failure

logger = logging.getLogger(__name__)


class TrackerStoreUnavailable(Exception):
    """The tracker database could not be used (the message names only the driver's exception type)."""


class ReconnectingSQLTrackerStore(SQLTrackerStore):
    """:class:`SQLTrackerStore` with pre-pinged pooled connections and sanitised failures marked on the turn."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the stock store (same settings), then swap in an engine that pings pooled connections."""
        import sqlalchemy as sa

        super().__init__(*args, **kwargs)
        stock = self.engine
        self.engine = sa.create_engine(stock.url, pool_pre_ping=True, **create_engine_kwargs(stock.url))
        stock.dispose()
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    @staticmethod
    def _failed(exc: Exception) -> TrackerStoreUnavailable:
        record_tracker_store_failure()
        return TrackerStoreUnavailable(type(exc).__name__)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """Stock ``retrieve``; a failure is marked on the turn and re-raised without SQL parameters."""
        try:
            return await super().retrieve(sender_id)
        except Exception as exc:
            raise self._failed(exc) from None

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """Stock ``retrieve_full_tracker``; a failure is marked on the turn and re-raised without SQL parameters."""
        try:
            return await super().retrieve_full_tracker(sender_id)
        except Exception as exc:
            raise self._failed(exc) from None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stock ``save``; a failure is marked on the turn and re-raised without SQL parameters."""
        try:
            await super().save(tracker)
        except Exception as exc:
            raise self._failed(exc) from None

    async def keys(self) -> Iterable[Text]:
        """Stock ``keys``; a failure is marked on the turn and re-raised without SQL parameters."""
        try:
            return await super().keys()
        except Exception as exc:
            raise self._failed(exc) from None
