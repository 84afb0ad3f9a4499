"""Importing the action modules sets nothing up; rasa-sdk's plugin entry point (``rasa_sdk_plugins.init_hooks``)
does, once, when the action server starts.

Each check runs in a fresh interpreter: in this test process other tests may already have installed the filter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, json, logging, pkgutil

default_factory = logging.getLogRecordFactory()
import actions
for module in pkgutil.iter_modules(actions.__path__):
    importlib.import_module("actions." + module.name)
import rasa_sdk_plugins
after_import = logging.getLogRecordFactory() is default_factory

from rasa_sdk.plugin import plugin_manager
plugin_manager()  # what `python -m rasa_sdk` does before serving: it calls rasa_sdk_plugins.init_hooks
record = logging.getLogRecordFactory()("probe", logging.INFO, "probe.py", 1, "gọi %s", ("0912345678",), None)
print(json.dumps({"untouched_after_import": after_import,
                  "masked_after_start": record.getMessage(),
                  "actions": sorted(m.name for m in pkgutil.iter_modules(actions.__path__))}))
"""


def test_importing_the_actions_leaves_the_log_record_factory_alone_until_the_server_starts():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "actions_dialogue" in result["actions"] and len(result["actions"]) >= 5, result
    assert result["untouched_after_import"] is True
    assert result["masked_after_start"] == "gọi 091*******"
