"""Deep-link payloads (``https://t.me/<bot>?start=<payload>``), e.g. on a store's QR poster.

A payload is untrusted: anyone can type one. Telegram allows up to 64 characters of
``[A-Za-z0-9_-]``; anything else is simply not ours.
"""

from __future__ import annotations

import re

_CENTER = re.compile(r"center_([1-9][0-9]{0,17})")


def center_payload(center_id: int) -> str:
    return f"center_{center_id}"


def parse_center_payload(payload: str | None) -> int | None:
    if not payload or len(payload) > 64:
        return None
    match = _CENTER.fullmatch(payload)
    return int(match.group(1)) if match else None


def center_link(bot_username: str, center_id: int) -> str:
    return f"https://t.me/{bot_username}?start={center_payload(center_id)}"


_INVITE = re.compile(r"inv_([A-Za-z0-9_-]{16,32})")


def invite_payload(token: str) -> str:
    return f"inv_{token}"


def parse_invite_payload(payload: str | None) -> str | None:
    if not payload or len(payload) > 64:
        return None
    match = _INVITE.fullmatch(payload)
    return match.group(1) if match else None


def invite_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={invite_payload(token)}"
