"""Callback data factories. Everything in them is client-controlled: handlers re-check
existence, state and rights before acting."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class ConsentAction(StrEnum):
    ACCEPT = "a"
    DECLINE = "d"


class ConsentCb(CallbackData, prefix="consent"):
    action: ConsentAction
    center_id: int = 0  # subscribe to this center once consent is given (0: none)


class LanguageCb(CallbackData, prefix="lang"):
    code: str


class ForgetAction(StrEnum):
    ASK = "ask"
    CONFIRM = "yes"
    KEEP = "no"


class ForgetCb(CallbackData, prefix="forget"):
    action: ForgetAction


class CenterAction(StrEnum):
    OPEN = "o"
    SUBSCRIBE = "s"
    UNSUBSCRIBE = "u"


class CenterCb(CallbackData, prefix="c"):
    action: CenterAction
    center_id: int


class NearbyPageCb(CallbackData, prefix="near"):
    # The point travels in the button itself, so paging works after a restart and the
    # location is never stored.
    latitude: float
    longitude: float
    offset: int


class SearchPageCb(CallbackData, prefix="find"):
    offset: int
