"""Tables. Portable SQLAlchemy Core: the same definitions serve SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


users = Table(
    "users",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # the Telegram user id
    Column("display_name", String(128), nullable=False),
    Column("language", String(8), nullable=False),
    Column("consent_at", UTCDateTime, nullable=False),
    Column("consent_version", String(32), nullable=False),
    Column("blocked", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    # Which reminders the user wants, as domain.reminders.format_reminders writes it:
    # NULL for the defaults, "" for none.
    Column("reminders", String(32)),
    Column("weekly_digest", Boolean, nullable=False, server_default=true()),
    # Categories of new activities to be told about, comma-separated domain Category values:
    # NULL for all of them, "" for none.
    Column("announce_categories", String(200)),
)

centers = Table(
    "centers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("external_id", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("address", String(300), nullable=False),
    Column("city", String(100), nullable=False),
    Column("region", String(100)),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("opening_hours", String(200)),
    Column("phone", String(50)),
    # Lower-cased, ё→е, transliterated text of name, address, city and region: one LIKE
    # matches whatever script and spelling the resident typed.
    Column("search_key", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Ids are printed on posters as deep links: SQLite must never hand a deleted one out again.
    sqlite_autoincrement=True,
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("center_id", ForeignKey("centers.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_subscriptions_center_id", "center_id"),
)

# A weekly rule ("Tuesdays and Thursdays at 18:00, every other week"). A daily job turns it
# into rows of ``activities`` a few weeks ahead; sign-ups always belong to one occurrence.
activity_series = Table(
    "activity_series",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("center_id", ForeignKey("centers.id", ondelete="CASCADE"), nullable=False),
    Column("external_id", String(64), unique=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("category", String(16), nullable=False),
    Column("weekdays", String(13), nullable=False),  # ISO weekdays, "1,3" = Monday, Wednesday
    Column("every_weeks", Integer, nullable=False, server_default="1"),
    Column("local_time", String(5), nullable=False),  # "18:30" in the center's time zone
    Column("duration_minutes", Integer, nullable=False),
    Column("first_date", Date, nullable=False),
    Column("last_date", Date),
    Column("place_note", String(200)),
    Column("capacity", Integer),
    Column("max_companions", Integer, nullable=False, server_default="0"),
    Column("accepts_participants", Boolean, nullable=False, server_default=true()),
    Column("volunteer_role", String(100)),
    Column("volunteer_places", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
)

activities = Table(
    "activities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("center_id", ForeignKey("centers.id", ondelete="CASCADE"), nullable=False),
    Column("series_id", ForeignKey("activity_series.id", ondelete="SET NULL")),
    Column("external_id", String(64), unique=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("category", String(16), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("place_note", String(200)),
    # Participants: NULL capacity means unlimited. Every person of a party takes a seat.
    Column("accepts_participants", Boolean, nullable=False, server_default=true()),
    Column("capacity", Integer),
    Column("max_companions", Integer, nullable=False, server_default="0"),
    Column("seats_taken", Integer, nullable=False, server_default="0"),
    # Volunteers: a shift needs ``volunteer_places`` helpers in ``volunteer_role``.
    Column("volunteer_role", String(100)),
    Column("volunteer_places", Integer, nullable=False, server_default="0"),
    Column("volunteers_taken", Integer, nullable=False, server_default="0"),
    Column("status", String(12), nullable=False, server_default="scheduled"),
    Column("created_at", UTCDateTime, nullable=False),
    # When subscribers were told about it; NULL: not yet (the announcement job's work list).
    Column("announced_at", UTCDateTime),
    # The counters are the capacity guard: a conditional UPDATE moves them, and these checks
    # make any bug that would overbook fail loudly instead.
    CheckConstraint(
        "capacity IS NULL OR seats_taken <= capacity", name="ck_activities_seats_within_capacity"
    ),
    CheckConstraint(
        "volunteers_taken <= volunteer_places", name="ck_activities_volunteers_within_places"
    ),
    CheckConstraint("seats_taken >= 0 AND volunteers_taken >= 0", name="ck_activities_taken"),
    CheckConstraint("ends_at > starts_at", name="ck_activities_ends_after_start"),
    UniqueConstraint("series_id", "starts_at", name="uq_activities_series_id_starts_at"),
    Index("ix_activities_center_id_starts_at", "center_id", "starts_at"),
    Index("ix_activities_starts_at", "starts_at"),
    sqlite_autoincrement=True,  # old buttons must not reach a new activity under a reused id
)

signups = Table(
    "signups",
    metadata,
    Column("id", Integer, primary_key=True),  # the order of sign-up: the waitlist's order
    Column("activity_id", ForeignKey("activities.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(12), nullable=False),  # participant | volunteer
    Column("party_size", Integer, nullable=False, server_default="1"),
    # confirmed | waitlisted | offered | cancelled | declined | expired
    Column("status", String(12), nullable=False),
    Column("offer_expires_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("coming_confirmed_at", UTCDateTime),  # "I'm coming" pressed on a reminder
    # When the reminder job next has work for this sign-up: NULL until it has planned the
    # reminders (new sign-ups, changed preferences or times), storage.reminders.NEVER after
    # the last. The job reads only rows that are due, whatever the number of sign-ups.
    Column("reminder_due_at", UTCDateTime),
    # Roll call by a coordinator: NULL until taken. An absent volunteer's shift gives no hours.
    Column("attended", Boolean),
    # When the person first had to wait for a seat: the waitlist conversion figure's base.
    Column("waitlisted_at", UTCDateTime),
    # One row per person and activity, whatever its status: a double tap cannot add a second.
    UniqueConstraint("activity_id", "user_id", name="uq_signups_activity_id_user_id"),
    CheckConstraint("party_size >= 1", name="ck_signups_party_size"),
    Index("ix_signups_activity_id_status", "activity_id", "status"),
    Index("ix_signups_user_id_status", "user_id", "status"),
    Index("ix_signups_status_reminder_due_at", "status", "reminder_due_at"),
    sqlite_autoincrement=True,
)

# People a coordinator registered at the desk, without Telegram: they take seats like anyone.
guest_signups = Table(
    "guest_signups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("activity_id", ForeignKey("activities.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("party_size", Integer, nullable=False, server_default="1"),
    Column("attended", Boolean),
    Column("created_by", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("party_size >= 1", name="ck_guest_signups_party_size"),
    Index("ix_guest_signups_activity_id", "activity_id"),
)

# One rating per person and activity, given after it ended; read by coordinators.
ratings = Table(
    "ratings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("activity_id", ForeignKey("activities.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("score", Integer, nullable=False),
    Column("comment", String(1000)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("activity_id", "user_id", name="uq_ratings_activity_id_user_id"),
    CheckConstraint("score BETWEEN 1 AND 5", name="ck_ratings_score"),
)

volunteer_profiles = Table(
    "volunteer_profiles",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("display_name", String(128)),
    Column("skills", String(300)),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Who coordinates which center. Revoking deletes the row; the audit log keeps the history.
coordinators = Table(
    "coordinators",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("center_id", ForeignKey("centers.id", ondelete="CASCADE"), primary_key=True),
    Column("appointed_by", BigInteger, nullable=False),
    Column("appointed_at", UTCDateTime, nullable=False),
    Index("ix_coordinators_center_id", "center_id"),
)

# One-time invitations to coordinate centers, sent as a deep link. ``replaces``: a hand-over,
# whoever accepts takes that coordinator's place at these centers.
invites = Table(
    "invites",
    metadata,
    Column("token", String(32), primary_key=True),
    Column("created_by", BigInteger, nullable=False),
    Column("replaces", BigInteger),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_by", BigInteger),
    Column("used_at", UTCDateTime),
)

invite_centers = Table(
    "invite_centers",
    metadata,
    Column("token", ForeignKey("invites.token", ondelete="CASCADE"), primary_key=True),
    Column("center_id", ForeignKey("centers.id", ondelete="CASCADE"), primary_key=True),
)

# Every coordinator and admin action: who, what, when. No foreign keys: the record outlives
# the center, the activity and the person's account.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("actor_id", BigInteger, nullable=False),
    Column("action", String(40), nullable=False),
    Column("center_id", Integer),
    Column("details", Text),  # JSON
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_audit_log_center_id", "center_id"),
)

# A coordinator's announcement. Its messages are deliveries rows tagged with its id.
broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("center_id", ForeignKey("centers.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", BigInteger, nullable=False),
    Column("text", Text, nullable=False),  # HTML
    Column("photo", String(256)),  # a Telegram file_id
    Column("audience", String(12), nullable=False),  # subscribers | activity | volunteers
    Column("activity_id", ForeignKey("activities.id", ondelete="SET NULL")),
    # scheduled | sending | done | cancelled
    Column("state", String(10), nullable=False),
    Column("send_at", UTCDateTime, nullable=False),
    Column("recipients", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    # The author's progress message, edited while it goes out.
    Column("report_chat_id", BigInteger),
    Column("report_message_id", BigInteger),
    Index("ix_broadcasts_state_send_at", "state", "send_at"),
)

# Residents' proposals to their center; coordinators answer them or turn them into activities.
ideas = Table(
    "ideas",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("center_id", ForeignKey("centers.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("text", String(2000), nullable=False),
    Column("can_help", Boolean, nullable=False, server_default=false()),
    Column("status", String(10), nullable=False, server_default="new"),  # new | answered | done
    Column("reply", String(2000)),
    Column("activity_id", ForeignKey("activities.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_ideas_center_id_status", "center_id", "status"),
)

# Small key/value facts about the data itself, e.g. a revision number bumped by every centers
# import so that running bots know their in-memory nearest-center index is stale.
# Who runs the scheduler and the sender for this database, until when (see bot/leader.py).
leases = Table(
    "leases",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Updates a webhook has taken in lately: Telegram delivers one again when it did not hear the
# answer, possibly to another instance; the first INSERT of its id wins. Pruned after a day.
processed_updates = Table(
    "processed_updates",
    metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_processed_updates_received_at", "received_at"),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)

# The outbound queue: every push the bot makes on its own is a row here first, then a message.
# A row in ``sending`` may have reached Telegram; after a crash it becomes ``unknown`` and is
# never sent again (Telegram has no idempotency key). See storage/deliveries.py.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),  # the sending order
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),  # the chat
    Column("kind", String(32), nullable=False),  # offer | reminder | announcement | ...
    # "reminder:<signup_id>:24h": enqueueing the same key again is a no-op. NULL: no dedup.
    Column("dedup_key", String(128), unique=True),
    Column("text", Text, nullable=False),  # HTML
    Column("reply_markup", Text),  # JSON of the Bot API's reply_markup
    # pending | sending | sent | failed | unknown | cancelled (its broadcast was stopped)
    Column("state", String(12), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("error", String(200)),
    Column("telegram_message_id", BigInteger),
    Column("photo", String(256)),  # a Telegram file_id: sent as a photo with ``text`` as caption
    Column("broadcast_id", ForeignKey("broadcasts.id", ondelete="CASCADE")),
    CheckConstraint(
        "state IN ('pending', 'sending', 'sent', 'failed', 'unknown', 'cancelled')",
        name="ck_deliveries_state",
    ),
    CheckConstraint("attempts >= 0", name="ck_deliveries_attempts"),
    Index("ix_deliveries_state_next_attempt_at_id", "state", "next_attempt_at", "id"),
    Index("ix_deliveries_user_id", "user_id"),  # ON DELETE CASCADE looks rows up by user
    Index("ix_deliveries_broadcast_id_state", "broadcast_id", "state"),
)

# A sign-up with its activity, center and person: what every push about a sign-up reads
# (reminders, the thank-you after an activity).
signups_in_context = (
    signups.join(activities, activities.c.id == signups.c.activity_id)
    .join(centers, centers.c.id == activities.c.center_id)
    .join(users, users.c.id == signups.c.user_id)
)
