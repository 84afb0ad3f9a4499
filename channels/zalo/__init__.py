"""Zalo Official Account channel for Rasa (``channels.zalo.ZaloInput`` in ``credentials.yml``).

Modules: :mod:`.signature` (webhook signature and replay window), :mod:`.parser` (events, text splitting,
numbered buttons), :mod:`.api` (OpenAPI client, token refresh and storage), :mod:`.output` (Rasa output
channel), :mod:`.input` (Rasa input channel with background processing).
"""

from channels.zalo.input import ZaloInput
from channels.zalo.output import ZaloOutput
from channels.zalo.signature import zalo_signature

__all__ = ["ZaloInput", "ZaloOutput", "zalo_signature"]
