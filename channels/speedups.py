"""Rasa 3.6 runtime fixes that change cost, not behaviour; installed by the Rasa process setup (channels/process.py).

``RemoteAction._validate_action_result`` calls ``jsonschema.validate`` on every action-server response, which
re-checks the (constant) schema itself each time: ~15 ms of CPU per custom action on this machine, more than the
action server takes to answer a procedure question (load profile in reports/load/). Here the schema is checked
once and the compiled validator reused — the same validation and the same ``ValidationError`` on a bad response.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Text

logger = logging.getLogger(__name__)
_installed = False


def install() -> None:
    """Patch ``RemoteAction._validate_action_result`` once per process (idempotent)."""
    global _installed
    if _installed:
        return
    from jsonschema import ValidationError, validators
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def _validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
        try:
            validator.validate(result)
            return True
        except ValidationError as e:
            e.message += (
                ". Failed to validate Action server response from API, make sure your response from the Action "
                f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
            )
            raise e

    RemoteAction._validate_action_result = _validate_action_result
    _installed = True
    logger.debug("Action-server responses validated with a precompiled JSON schema.")
