"""Callback data factories. Everything in them is client-controlled: handlers re-check
existence, state and rights before acting."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from domain.roster import Mark

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


class AdminAction(StrEnum):
    REGIONS = "r"  # the chain's figures by region, as CSV
    IMPORT = "i"  # centers from a CSV document
    FIND = "f"  # a center, to open its coordinator menu


class AdminCb(CoordCallback, prefix="adm"):
    action: AdminAction


class CoordActivitiesCb(CoordCallback, prefix="krl"):
    """A page of one center's activities in the coordinator's list: those not over yet, or
    (``past``) those of the last week, for a roll call after the fact."""

    center_id: RowId
    past: bool = False
    offset: Offset = 0


class CoordSignupsCb(CoordCallback, prefix="krs"):
    """A page of the sign-ups of one activity."""

    activity_id: RowId
    page: Annotated[int, Field(ge=0, le=1000)] = 0


class GuestAction(StrEnum):
    PARTY = "p"  # the party size, in the guest dialog
    ASK_REMOVE = "q"
    REMOVE = "x"


class CoordGuestCb(CoordCallback, prefix="krg"):
    action: GuestAction
    activity_id: RowId
    guest_id: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    party: Annotated[int, Field(ge=0, le=100)] = 0


class RollCallAction(StrEnum):
    SHOW = "v"  # a page of the roll call
    SIGNUP = "s"  # set one resident's mark
    GUEST = "g"  # set one guest's mark
    EVERYONE = "all"  # everyone present


class CoordRollCallCb(CoordCallback, prefix="krc"):
    action: RollCallAction
    activity_id: RowId
    page: Annotated[int, Field(ge=0, le=1000)] = 0
    row_id: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0  # the sign-up's or the guest's
    mark: Mark = Mark.UNMARKED  # what the press sets: a double tap sets it twice, no harm


class FormAction(StrEnum):
    """A button of the new-activity dialog; ``value`` says which choice."""

    CATEGORY = "c"
    DURATION = "d"
    CAPACITY = "p"  # a number, "unlimited" or "volunteers" (a shift for volunteers only)
    NO_VOLUNTEERS = "n"
    PLACES = "v"
    SKIP = "s"  # leave an optional field empty
    KEEP = "k"  # keep what the field holds (a suggestion, or the value being edited)
    ONCE = "o"
    WEEKLY = "w"
    WEEKDAY = "y"  # toggle one day of the week
    EVERY = "e"  # every week, or every other week
    DAYS_DONE = "x"
    END = "z"  # a number of weeks, or "none"
    SAVE = "S"
    FIELDS = "E"  # "Edit a field": the list of fields
    FIELD = "F"  # one field to change
    DISCARD = "D"


class CoordFormCb(CoordCallback, prefix="knf"):
    """A button of the new-activity dialog. The dialog's state must be for this center."""

    center_id: RowId
    action: FormAction
    value: str = Field(default="", pattern=r"^[a-z0-9_]{0,16}$")


class EditField(StrEnum):
    TITLE = "t"
    DESCRIPTION = "d"
    PLACE = "p"
    START = "s"
    DURATION = "m"
    CAPACITY = "c"


class CoordEditCb(CoordCallback, prefix="ked"):
    """One field of an existing activity to change; ``clear`` empties it (no place, no
    description, no limit on places)."""

    activity_id: RowId
    field: EditField
    clear: bool = False


class CoordCancelCb(CoordCallback, prefix="kcx"):
    """The answer to "Cancel this activity?"."""

    activity_id: RowId
    confirm: bool


class IdeaCb(CallbackData, prefix="idea"):
    """The "💡 Propose an idea" button on a center's card."""

    center_id: RowId


class IdeaHelpCb(CallbackData, prefix="ideh"):
    """The author's answer to "Can you help with it?"."""

    can_help: bool


class CoordIdeasCb(CoordCallback, prefix="kil"):
    """A page of a center's ideas still open (new or answered)."""

    center_id: RowId
    offset: Offset = 0


class IdeaAction(StrEnum):
    OPEN = "o"
    REPLY = "r"
    ACTIVITY = "a"  # turn it into an activity
    DONE = "d"


class CoordIdeaCb(CoordCallback, prefix="kid"):
    center_id: RowId
    idea_id: RowId
    action: IdeaAction


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
