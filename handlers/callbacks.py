"""Callback data factories. Everything in them is client-controlled: handlers re-check
existence, state and rights before acting."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

# Ids as the database holds them (PostgreSQL's integer). Anything outside fails the filter
# and lands in the fallback's "out of date" answer instead of reaching a query.
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]
Offset = Annotated[int, Field(ge=0, le=10_000)]


class ConsentAction(StrEnum):
    ACCEPT = "a"
    DECLINE = "d"


class ConsentCb(CallbackData, prefix="consent"):
    action: ConsentAction
    center_id: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0  # subscribe once agreed; 0: none


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
    center_id: RowId


class NearbyPageCb(CallbackData, prefix="near"):
    # The point travels in the button itself, so paging works after a restart and the
    # location is never stored.
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]
    offset: Offset


class SearchPageCb(CallbackData, prefix="find"):
    # The query itself stays in the dialog state under this token: a query may not fit in
    # 64 bytes, and each list message must page through its own search.
    token: str = Field(pattern=r"^[0-9a-f]{8}$")
    offset: Offset


class Scope(StrEnum):
    SUBSCRIBED = "s"
    NEARBY = "n"


class Period(StrEnum):
    ALL = "a"
    TODAY = "t"
    WEEK = "w"


class ListCb(CallbackData, prefix="al"):
    """One page of the activities (``volunteer`` false) or shifts (true) list."""

    volunteer: bool = False
    scope: Scope = Scope.SUBSCRIBED
    latitude: Annotated[float, Field(ge=-90, le=90)] = 0.0  # the shared point (nearby scope)
    longitude: Annotated[float, Field(ge=-180, le=180)] = 0.0
    period: Period = Period.ALL
    category: str = ""  # "" for every category; checked against domain Category
    offset: Offset = 0
    pick: bool = False  # show the category picker instead of the list's buttons


class ActivityAction(StrEnum):
    OPEN = "o"
    JOIN = "j"
    PARTY = "p"  # choose how many people come
    CALENDAR = "c"


class ActivityCb(CallbackData, prefix="a"):
    action: ActivityAction
    activity_id: RowId
    volunteer: bool = False
    party: Annotated[int, Field(ge=0, le=100)] = 1


class SignupAction(StrEnum):
    ASK_CANCEL = "q"
    CANCEL = "x"
    KEEP = "k"
    ACCEPT = "a"
    DECLINE = "d"


class SignupCb(CallbackData, prefix="s"):
    action: SignupAction
    signup_id: RowId


class ScheduleAction(StrEnum):
    CALENDAR = "c"  # the whole schedule as an .ics file
    HOURS = "h"
    HOURS_PDF = "p"
    PROFILE = "v"


class ScheduleCb(CallbackData, prefix="my"):
    action: ScheduleAction


class MyCentersCb(CallbackData, prefix="mine"):
    offset: Offset


class ReminderAction(StrEnum):
    COMING = "y"
    CANT = "n"  # cancels the sign-up


class ReminderCb(CallbackData, prefix="r"):
    """The buttons on a reminder."""

    action: ReminderAction
    signup_id: RowId


class ReminderChoice(StrEnum):
    """A press in the reminder settings: one kind on or off, or all of them off."""

    H24 = "24h"
    H2 = "2h"
    H1 = "1h"
    MORNING = "morning"
    OFF = "off"


class RemindersCb(CallbackData, prefix="rset"):
    choice: ReminderChoice


class RateCb(CallbackData, prefix="rate"):
    """A score on the thank-you after an activity. A score outside 1–5 fails the filter."""

    signup_id: RowId
    score: Annotated[int, Field(ge=1, le=5)]


class RatingAction(StrEnum):
    COMMENT = "c"
    NO_COMMENT = "n"


class RatingCommentCb(CallbackData, prefix="rcom"):
    """The "Add a comment" and "No, thanks" buttons under a score just given."""

    action: RatingAction
    signup_id: RowId


class NewsChoice(StrEnum):
    """A press in the news settings: the weekly digest on or off, one category of new
    activities on or off (the values of domain Category), or all or none of them."""

    DIGEST = "digest"
    CHILDREN = "children"
    SENIORS = "seniors"
    CRAFTS = "crafts"
    SPORT = "sport"
    LECTURES = "lectures"
    ECOLOGY = "ecology"
    CHARITY = "charity"
    OTHER = "other"
    ALL = "all"
    NONE = "none"


class NewsCb(CallbackData, prefix="news"):
    choice: NewsChoice


class CoordCallback(CallbackData, prefix="coord"):
    """Base of every coordinator and admin button. One that fails its access check (forged,
    or a revoked coordinator's) gets a refusal from handlers.access, not "out of date"."""


class CoordSection(StrEnum):
    MENU = "m"
    ACTIVITIES = "a"
    NEW_ACTIVITY = "n"
    BROADCAST = "b"
    IDEAS = "i"
    POSTER = "p"
    STATS = "s"
    TEAM = "t"


class CoordMenuCb(CoordCallback, prefix="km"):
    """A section of one center's coordinator menu."""

    section: CoordSection
    center_id: RowId


class CoordActivityAction(StrEnum):
    OPEN = "o"  # the coordinator's card of the activity
    SIGNUPS = "s"  # who signed up, and the waitlist
    GUEST = "g"  # register someone at the desk, by name
    ROLL_CALL = "r"  # attendance
    EXPORT = "x"  # participants as CSV
    EDIT = "e"
    CANCEL = "c"


class CoordActivityCb(CoordCallback, prefix="ka"):
    action: CoordActivityAction
    activity_id: RowId


class BroadcastStep(StrEnum):
    SUBSCRIBERS = "s"  # the audience: the center's subscribers
    VOLUNTEERS = "v"  # the audience: the center's volunteers
    ACTIVITIES = "l"  # list the upcoming activities, to pick one
    ACTIVITY = "a"  # the audience: people signed up for ``activity_id``
    AUDIENCE = "b"  # back to choosing the audience
    NOW = "n"  # send it now
    LATER = "t"  # ask for a date and time
    QUIT = "q"  # drop the draft


class CoordBroadcastCb(CoordCallback, prefix="kbr"):
    """A step of composing an announcement. The draft itself lives in the dialog's state."""

    step: BroadcastStep
    center_id: RowId
    activity_id: RowId | None = None


class CoordBroadcastStopCb(CoordCallback, prefix="kbrx"):
    """Stop an announcement: a scheduled one before it starts, or one going out."""

    center_id: RowId
    broadcast_id: RowId
