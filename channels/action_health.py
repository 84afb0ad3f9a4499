"""Whether the action server is up, asked of its ``/health`` route (shared by the REST and Zalo channels)."""

from __future__ import annotations

import aiohttp

DEFAULT_ACTION_HEALTH_URL = "http://localhost:5055/health"
HEALTH_TIMEOUT_S = 1.0


async def action_server_is_up(health_url: str, timeout_s: float = HEALTH_TIMEOUT_S) -> bool:
    """Whether the action server answers ``health_url`` with 200 within ``timeout_s`` seconds."""
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(health_url) as resp:
                return resp.status == 200
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False
    except Exception:  # noqa: BLE001 - asyncio.TimeoutError on 3.10 and anything odd: treat as down
        return False
