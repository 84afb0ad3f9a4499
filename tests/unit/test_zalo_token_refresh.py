"""The notification worker refreshes an expired Zalo OA access token through the protocol it shares with the Rasa
channel (core.zalo_tokens): one refresh per expiry across processes, the new single-use refresh token stored."""

from __future__ import annotations

import json
import threading

from core.notifications.outbox import Outbox
from core.notifications.subscriptions import Subscription, Subscriptions
from core.zalo_tokens import REFRESH_PATH, TokenStore
from tests.fakes.notifications import (
    CODE,
    DAYTIME,
    EXPECTED_TEXT,
    refreshing_notifier,
    result_ready,
    seed_application,
    zalo_worker,
)
from tests.fakes.zalo_api_server import SEND_PATH

USER = "1000000000000000001"


def seeded_store(fake, tmp_path) -> TokenStore:
    """The token file as the channel leaves it: the fake's current pair (seeded from the environment)."""
    return TokenStore(tmp_path / "zalo_tokens.json", fake.access_token, fake.refresh_token)


def stored_pair(tmp_path) -> tuple:
    data = json.loads((tmp_path / "zalo_tokens.json").read_text(encoding="utf-8"))
    return data["access_token"], data["refresh_token"]


def test_expired_token_is_refreshed_once_stored_and_the_notification_delivered(db, clock, fake, tmp_path):
    tokens = seeded_store(fake, tmp_path)
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    result_ready(clock, db)
    fake.expire_access_token()  # nobody wrote to the OA for more than a day
    worker = zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME, tokens=tokens)
    assert worker.run_once() == 1
    assert fake.delivered(USER) == [EXPECTED_TEXT]
    assert Outbox(db).counts() == {"sent": 1}
    [refresh] = fake.calls(REFRESH_PATH)
    assert refresh.headers["secret_key"] == fake.secret_key
    assert refresh.form == {"refresh_token": "fake-refresh-0", "app_id": fake.app_id, "grant_type": "refresh_token"}
    assert [call.headers["access_token"] for call in fake.calls(SEND_PATH)][-1] == "fake-access-1"
    assert stored_pair(tmp_path) == ("fake-access-1", "fake-refresh-1")
    # The channel restarting with the stale environment pair keeps the rotated one.
    assert TokenStore(tmp_path / "zalo_tokens.json", "fake-access-0", "fake-refresh-0").refresh_token == \
        "fake-refresh-1"


def test_two_processes_racing_on_an_expired_token_refresh_it_once(clock, fake, tmp_path):
    stores = [seeded_store(fake, tmp_path), seeded_store(fake, tmp_path)]  # each process has its own store
    fake.expire_access_token()
    notifiers = [refreshing_notifier(fake, store, clock, last_seen=lambda user: DAYTIME) for store in stores]
    users = ["1000000000000000001", "1000000000000000002"]
    start = threading.Barrier(2)
    results = {}

    def deliver(index: int) -> None:
        start.wait()
        sub = Subscription(index + 1, "zalo", users[index], CODE, DAYTIME)
        results[index] = notifiers[index].deliver(sub, f"Hồ sơ {CODE} đã có kết quả.", index + 1)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [results[i].ok for i in range(2)] == [True, True]
    assert len(fake.calls(REFRESH_PATH)) == 1
    assert [s.access_token for s in stores] == ["fake-access-1", "fake-access-1"]
    assert [fake.delivered(user) for user in users] == [[f"Hồ sơ {CODE} đã có kết quả."]] * 2
    assert stored_pair(tmp_path) == ("fake-access-1", "fake-refresh-1")


def test_refused_refresh_is_a_transient_failure_and_keeps_the_stored_pair(db, clock, fake, tmp_path):
    tokens = seeded_store(fake, tmp_path)
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    result_ready(clock, db)
    fake.expire_access_token()
    fake.refresh_token = "rotated-elsewhere"  # the app was re-authorised: the stored refresh token is dead
    worker = zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME, tokens=tokens)
    assert worker.run_once() == 1
    assert fake.delivered(USER) == []
    assert Outbox(db).counts() == {"pending": 1}
    assert Outbox(db).log()[0]["error"] == "Zalo access token refresh failed (-14014)"
    assert stored_pair(tmp_path) == ("fake-access-0", "fake-refresh-0")


def test_a_process_without_a_refresh_token_reads_the_file_and_never_overwrites_it(fake, tmp_path):
    seeded_store(fake, tmp_path).save("fake-access-7", "fake-refresh-7")
    reader = TokenStore(tmp_path / "zalo_tokens.json", "", "")
    assert (reader.access_token, reader.refresh_token) == ("fake-access-7", "fake-refresh-7")
    assert stored_pair(tmp_path) == ("fake-access-7", "fake-refresh-7")
    seeded_store(fake, tmp_path).save("fake-access-8", "fake-refresh-8")  # the channel refreshed meanwhile
    assert reader.current() == "fake-access-8"
