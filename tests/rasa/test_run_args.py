"""The command lines we start Rasa with parse under Rasa's own argument parser, whatever the token looks like.

A generated URL-safe token starts with "-" once in 64 runs; passed as two words, argparse read it as an option
and ``rasa run`` exited ("argument -t/--auth-token: expected one argument"), failing the scaled-profile CI.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rasa.__main__ import create_argument_parser

from scripts.scaled_profile import ScaledProfile

ROOT = Path(__file__).resolve().parents[2]
TOKENS = ["-Xy_9", "--enable-api", "-t", "plain-token_0", "_-_"]


@pytest.mark.parametrize("token", TOKENS)
def test_scaled_profile_rasa_args_keep_the_token(tmp_path, token):
    profile = ScaledProfile(tmp_path, replicas=2, rasa_api_token=token, rasa_ports=[5301, 5302],
                            actions_ports=[5311, 5312], port=5300, actions_lb_port=5310)
    args = create_argument_parser().parse_args(profile.rasa_run_args(1))
    assert args.auth_token == token
    assert args.enable_api is True
    assert args.port == 5302


@pytest.mark.parametrize("token", TOKENS)
def test_run_sh_rasa_command_keeps_the_token(token):
    # The `rasa run` line of scripts/run.sh, with its variables filled in as bash would.
    script = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    match = re.search(r"\.venv-rasa/bin/rasa (run .*?)\s*>logs/rasa\.log", script, re.S)
    assert match, "rasa run line not found in scripts/run.sh"
    line = match.group(1).replace("\\", " ")  # line continuations
    values = {"$RASA_PORT": "5005", "$CREDENTIALS_FILE": "credentials.yml", "$RASA_API_TOKEN": token}
    words = []
    for word in line.split():
        word = word.replace('"', "")
        for name, value in values.items():
            word = word.replace(name, value)
        words.append(word)
    args = create_argument_parser().parse_args(words)
    assert args.auth_token == token
    assert args.port == 5005
