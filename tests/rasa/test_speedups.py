"""The precompiled action-response validation accepts and rejects exactly what Rasa's own does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from channels import speedups

GOOD = [
    {"events": [{"event": "slot", "name": "aspect", "value": "fee", "timestamp": None}],
     "responses": [{"text": "Lệ phí: 0 đồng.", "buttons": []}]},
    {"events": [], "responses": []},
    {},
]
BAD = [
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [1, 2]},
    {"events": [{"name": "aspect"}]},
]


@pytest.mark.parametrize("response", GOOD)
def test_valid_responses_pass(response):
    speedups.install()
    assert RemoteAction._validate_action_result(None, response) is True


@pytest.mark.parametrize("response", BAD)
def test_invalid_responses_fail_like_rasa(response):
    speedups.install()
    with pytest.raises(ValidationError):
        validate(response, RemoteAction.action_response_format_spec())  # Rasa's own check refuses it too
    with pytest.raises(ValidationError) as info:
        RemoteAction._validate_action_result(None, response)
    assert "Failed to validate Action server response" in info.value.message
