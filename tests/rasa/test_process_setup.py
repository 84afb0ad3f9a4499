"""Importing a channel module patches nothing; Rasa building a channel from credentials.yml runs the Rasa process's
setup (channels/process.py): the log-record factory that masks personal data and the precompiled action-response
validation.

Each check runs in a fresh interpreter: in this test process other tests have already built channels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from channels import process
from channels.rest import ResilientRestInput
from channels.socketio_push import PushSocketIOInput
from channels.zalo import ZaloInput

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, logging
from rasa.core.actions.action import RemoteAction

stock_validate = RemoteAction._validate_action_result
default_factory = logging.getLogRecordFactory()
import channels.rest, channels.socketio_push, channels.tracker_store, channels.zalo  # noqa: E401
after_import = (RemoteAction._validate_action_result is stock_validate
                and logging.getLogRecordFactory() is default_factory)

channels.rest.ResilientRestInput.from_credentials({})  # what `rasa run` does with credentials.yml at start-up
record = logging.getLogRecordFactory()("probe", logging.INFO, "probe.py", 1, "gọi %s", ("0912345678",), None)
print(json.dumps({"untouched_after_import": after_import,
                  "validation_replaced": RemoteAction._validate_action_result is not stock_validate,
                  "masked_after_start": record.getMessage()}))
"""


def test_importing_the_channels_patches_nothing_until_rasa_builds_one():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"untouched_after_import": True, "validation_replaced": True,
                      "masked_after_start": "gọi 091*******"}


@pytest.mark.parametrize("channel_class", [ResilientRestInput, PushSocketIOInput, ZaloInput])
def test_every_channel_runs_the_process_setup_when_rasa_builds_it(channel_class, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(process, "setup", lambda: calls.append(channel_class.name()))
    credentials = {}
    if channel_class is ZaloInput:
        credentials = {"app_id": "1", "oa_secret_key": "s", "access_token": "a", "refresh_token": "r",
                       "token_store_path": str(tmp_path / "tokens.json"), "seen_store": str(tmp_path / "seen.db")}
    assert isinstance(channel_class.from_credentials(credentials), channel_class)
    assert calls == [channel_class.name()]
