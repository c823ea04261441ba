"""Readable device labels ("Firefox on Windows") from user-agent strings."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse

MAX_USER_AGENT = 512


@lru_cache(maxsize=2048)
def device_label(user_agent: str) -> str:
    """A short label for a user agent; "Unknown device" when nothing is recognised."""
    if not user_agent:
        return "Unknown device"
    result = parse(user_agent[:MAX_USER_AGENT])
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    browser = "" if browser == "Other" else browser
    system = "" if system == "Other" else system
    if browser and system:
        return f"{browser} on {system}"[:100]
    return (browser or system or "Unknown device")[:100]
