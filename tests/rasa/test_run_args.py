"""The command lines we start Rasa with parse under Rasa's own argument parser, whatever the token looks like.

A generated URL-safe token starts with "-" once in 64 runs; passed as two words, argparse read it as an option
and ``rasa run`` exited ("argument -t/--auth-token: expected one argument"), failing the scaled-profile CI.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rasa.__main__ import create_argument_parser

from deploy.scaled_profile import ScaledProfile

ROOT = Path(__file__).resolve().parents[2]
TOKENS = ["-Xy_9", "--enable-api", "-t", "plain-token_0", "_-_"]


@pytest.mark.parametrize("token", TOKENS)
def test_scaled_profile_rasa_args_keep_the_token(tmp_path, token):
    profile = ScaledProfile(tmp_path, replicas=2, rasa_api_token=token, rasa_ports=[5301, 5302],
                            actions_ports=[5311, 5312], port=5300, actions_lb_port=5310)
    args = create_argument_parser().parse_args(profile.rasa_run_args(1))
    assert args.jwt_secret == token and args.auth_token is None  # header JWTs only, no ?token= in URLs
    assert args.enable_api is True
    assert args.port == 5302
    assert args.interface == "127.0.0.1"
    assert args.cors == []  # no chat page started: no browser origin allowed


def test_scaled_profile_cors_allows_only_the_chat_page(tmp_path, monkeypatch):
    import settings

    monkeypatch.delenv("RASA_CORS_ORIGINS", raising=False)
    settings.get_settings.cache_clear()
    profile = ScaledProfile(tmp_path, replicas=1, web_port=8090)
    assert create_argument_parser().parse_args(profile.rasa_run_args(0)).cors == [
        "http://127.0.0.1:8090", "http://localhost:8090"]
    monkeypatch.setenv("RASA_CORS_ORIGINS", "https://dichvucong.bacninh.gov.vn, https://bacninh.gov.vn")
    settings.get_settings.cache_clear()
    try:
        assert create_argument_parser().parse_args(profile.rasa_run_args(0)).cors == [
            "https://dichvucong.bacninh.gov.vn", "https://bacninh.gov.vn"]
    finally:
        settings.get_settings.cache_clear()


@pytest.mark.parametrize("token", TOKENS)
def test_run_sh_rasa_command_keeps_the_token(token):
    # The `rasa run` line of scripts/run.sh, with its variables filled in as bash would.
    script = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    match = re.search(r"\.venv-rasa/bin/rasa (run .*?)\s*>logs/rasa\.log", script, re.S)
    assert match, "rasa run line not found in scripts/run.sh"
    line = match.group(1).replace("\\", " ")  # line continuations
    values = {"$RASA_PORT": "5005", "$CREDENTIALS_FILE": "credentials.yml", "$RASA_API_TOKEN": token,
              "$RASA_HOST": "127.0.0.1", "$RASA_CORS_ORIGINS": "http://localhost:8080 http://127.0.0.1:8080"}
    words = []
    for word in line.split():
        quoted = '"' in word
        word = word.replace('"', "")
        for name, value in values.items():
            word = word.replace(name, value)
        words += [word] if quoted else word.split()  # unquoted variables split into words, as bash does
    args = create_argument_parser().parse_args(words)
    assert args.jwt_secret == token and args.auth_token is None  # header JWTs only, no ?token= in URLs
    assert args.port == 5005
    assert args.interface == "127.0.0.1"
    assert args.cors == ["http://localhost:8080", "http://127.0.0.1:8080"]


def test_run_sh_defaults_to_loopback_and_the_chat_page_origin():
    script = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    assert "RASA_HOST=${RASA_HOST:-127.0.0.1}" in script
    assert 'RASA_CORS_ORIGINS=${RASA_CORS_ORIGINS:-"http://localhost:$WEB_PORT http://127.0.0.1:$WEB_PORT"}' in script
    assert '--cors "*"' not in script and "--auth-token" not in script
