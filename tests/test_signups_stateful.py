"""Random sequences of sign-ups, cancels, offers, the clock, capacity changes and guests
registered at the desk, checked against the database's own invariants and a small model of
the rules after every step."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import select

from domain.activities import (
    ACTIVE,
    HOLDS_SEATS,
    Refusal,
    Role,
    SignupRules,
    Status,
    offer_deadline,
)
from domain.roster import RosterRefusal
from storage import guests as desk
from storage import signups as store
from storage.activities import get_activity, insert_activity
from storage.centers import upsert_centers
from storage.database import Database
from storage.migrate import upgrade
from storage.schema import guest_signups, signups
from storage.users import save_consent
from tests.postgres import TEMPLATE, Cluster

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
USERS = (1, 2, 3, 4)
MISSING = 1_000_000  # a sign-up id that never exists
P = Role.PARTICIPANT
V = Role.VOLUNTEER
CENTER = {
    "external_id": "c1",
    "name": "Соседи",
    "address": "ул. Мира, 5",
    "city": "Пермь",
    "region": None,
    "latitude": 58.0,
    "longitude": 56.2,
    "timezone": "Asia/Yekaterinburg",
    "opening_hours": None,
    "phone": None,
}


@dataclass
class Row:
    seq: int  # sign-up order; the database's ids must sort the same way
    user: int
    activity: int
    role: Role
    party: int
    status: Status
    expires: datetime | None = None


@dataclass
class Place:
    id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int | None
    max_companions: int
    volunteer_places: int
    seats_taken: int = 0
    volunteers_taken: int = 0
    guests: dict[int, int] = field(default_factory=dict)  # guest id -> party size

    def limit(self, role: Role) -> int | None:
        return self.capacity if role is P else self.volunteer_places

    def taken(self, role: Role) -> int:
        return self.seats_taken if role is P else self.volunteers_taken

    def free(self, role: Role) -> int | None:
        limit = self.limit(role)
        return None if limit is None else limit - self.taken(role)

    def move(self, role: Role, seats: int) -> None:
        if role is P:
            self.seats_taken += seats
        else:
            self.volunteers_taken += seats


def fits(free: int | None, party: int) -> bool:
    return free is None or party <= free


class SignupMachine(RuleBasedStateMachine):
    # The PostgreSQL cluster when the tests run on it (see the ``backend`` fixture below).
    cluster: Cluster | None = None

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.directory = tempfile.mkdtemp()
        self.db: Database | None = None
        self.database_name: str | None = None

    def teardown(self) -> None:
        if self.db is not None:
            self.run(self.db.close())
        if self.database_name is not None:
            self.run(self.cluster.drop_database(self.database_name))
        self.loop.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    async def write(self, action, **kwargs):
        async with self.db.write() as conn:
            return await action(conn, **kwargs)

    # --- set-up ------------------------------------------------------------------------------

    @initialize(
        capacity_a=st.integers(0, 3),
        capacity_b=st.one_of(st.none(), st.integers(0, 2)),
        places_b=st.integers(0, 2),
        max_active=st.sampled_from([1, 2, 10]),
    )
    def setup(self, capacity_a, capacity_b, places_b, max_active):
        self.now = START
        self.rules = SignupRules(max_active_signups=max_active)
        self.seq = 0
        self.rows: dict[tuple[int, int], Row] = {}  # (user, activity) -> the model's row
        self.ids: dict[tuple[int, int], int] = {}  # (user, activity) -> the database's id
        self.left_waitlist: set[int] = set()  # ids of rows seen in any other status
        specs = [
            # A: families welcome; B: a shift for helpers that takes single participants too.
            (START + timedelta(hours=20), capacity_a, 2, 0),
            (START + timedelta(hours=40), capacity_b, 0, places_b),
        ]
        self.places: list[Place] = []

        async def create():
            url = f"sqlite+aiosqlite:///{self.directory}/machine.db"
            if self.cluster is not None:
                self.database_name = await self.cluster.create_database(template=TEMPLATE)
                url = self.cluster.url(self.database_name)
            self.db = Database.from_url(url)
            await upgrade(self.db)
            async with self.db.write() as conn:
                await upsert_centers(conn, [CENTER], now=START)
                for user in USERS:
                    await save_consent(
                        conn,
                        user_id=user,
                        display_name=f"user {user}",
                        language="ru",
                        consent_version="1",
                        now=START,
                    )
                for starts_at, capacity, companions, places in specs:
                    activity_id = await insert_activity(
                        conn,
                        center_id=1,
                        title="Занятие",
                        category="other",
                        starts_at=starts_at,
                        ends_at=starts_at + timedelta(hours=2),
                        capacity=capacity,
                        max_companions=companions,
                        volunteer_role="help" if places else None,
                        volunteer_places=places,
                        created_at=START,
                    )
                    self.places.append(
                        Place(
                            activity_id,
                            starts_at,
                            starts_at + timedelta(hours=2),
                            capacity,
                            companions,
                            places,
                        )
                    )

        self.run(create())

    # --- the model ---------------------------------------------------------------------------

    def place(self, activity_id: int) -> Place:
        return next(p for p in self.places if p.id == activity_id)

    def queue(self, place: Place, role: Role) -> list[Row]:
        rows = [r for r in self.rows.values() if r.activity == place.id and r.role is role]
        return sorted((r for r in rows if r.status == Status.WAITLISTED), key=lambda r: r.seq)

    def position(self, row: Row) -> int | None:
        if row.status != Status.WAITLISTED:
            return None
        return [r.seq for r in self.queue(self.place(row.activity), row.role)].index(row.seq) + 1

    def fill(self, place: Place, role: Role) -> list[tuple]:
        if place.starts_at <= self.now:
            return []
        deadline = offer_deadline(self.now, place.starts_at, self.rules)
        status = Status.OFFERED if deadline is not None else Status.CONFIRMED
        promoted = []
        for row in self.queue(place, role):
            if fits(place.free(role), row.party):
                place.move(role, row.party)
                row.status, row.expires = status, deadline
                promoted.append((row.user, row.activity, status, deadline))
        return promoted

    def leave(self, row: Row, status: Status) -> list[tuple]:
        held = row.status in HOLDS_SEATS
        row.status, row.expires = status, None
        if not held:
            return []
        place = self.place(row.activity)
        place.move(row.role, -row.party)
        return self.fill(place, row.role)

    def expected_signup(self, user: int, activity_id: int, role: Role, party: int):
        place = self.place(activity_id)
        existing = self.rows.get((user, activity_id))
        if existing is not None and existing.status in ACTIVE:
            return Refusal.ALREADY, existing
        if place.starts_at <= self.now:
            return Refusal.STARTED, None
        if role is V and place.volunteer_places == 0:
            return Refusal.CLOSED, None
        companions = place.max_companions if role is P else 0
        if not 1 <= party <= 1 + companions:
            return Refusal.PARTY_TOO_BIG, None
        active = sum(
            1
            for r in self.rows.values()
            if r.user == user and r.status in ACTIVE and self.place(r.activity).ends_at > self.now
        )
        if active >= self.rules.max_active_signups:
            return Refusal.TOO_MANY, None
        self.seq += 1
        row = Row(self.seq, user, activity_id, role, party, Status.WAITLISTED)
        self.rows[user, activity_id] = row
        free = place.free(role)
        ahead = any(fits(free, r.party) for r in self.queue(place, role) if r is not row)
        if not ahead and fits(free, party):
            row.status = Status.CONFIRMED
            place.move(role, party)
        return None, row

    # --- rules -------------------------------------------------------------------------------

    @rule(
        user=st.sampled_from(USERS),
        index=st.integers(0, 1),
        role=st.sampled_from([P, P, P, V]),
        party=st.integers(1, 3),
    )
    def signs_up(self, user, index, role, party):
        activity_id = self.places[index].id
        refusal, row = self.expected_signup(user, activity_id, role, party)
        outcome = self.run(
            self.write(
                store.sign_up,
                activity_id=activity_id,
                user_id=user,
                role=role,
                party_size=party,
                now=self.now,
                rules=self.rules,
            )
        )
        assert outcome.refusal == refusal, (outcome, refusal)
        if row is None:
            assert outcome.signup is None
            return
        assert outcome.signup.status == row.status
        assert outcome.position == self.position(row)
        assert (outcome.signup.user_id, outcome.signup.activity_id) == (user, activity_id)
        if refusal is None:
            # A new row: what an earlier row with this id went through no longer applies.
            self.ids[user, activity_id] = outcome.signup.id
            self.left_waitlist.discard(outcome.signup.id)

    def pick(self, data, statuses=None):
        keys = sorted(
            key for key, row in self.rows.items() if statuses is None or row.status in statuses
        )
        return data.draw(st.sampled_from(keys)) if keys else None

    @precondition(lambda self: self.rows)
    @rule(data=st.data())
    def cancels(self, data):
        key = self.pick(data)
        row = self.rows[key]
        place = self.place(row.activity)
        promoted = []
        if row.status not in ACTIVE:
            refusal = Refusal.ALREADY
        elif place.starts_at <= self.now:
            refusal = Refusal.STARTED
        else:
            refusal = None
            promoted = self.leave(row, Status.CANCELLED)
        outcome = self.run(
            self.write(
                store.cancel,
                signup_id=self.ids[key],
                user_id=row.user,
                now=self.now,
                rules=self.rules,
            )
        )
        assert outcome.refusal == refusal
        assert outcome.signup.status == row.status
        assert self.promotions(outcome.promotions) == promoted

    @precondition(lambda self: any(r.status == Status.OFFERED for r in self.rows.values()))
    @rule(data=st.data(), accept=st.booleans())
    def answer_offer(self, data, accept):
        key = self.pick(data, {Status.OFFERED})
        row = self.rows[key]
        promoted = []
        refusal = None
        if not accept:
            promoted = self.leave(row, Status.DECLINED)
        elif row.expires <= self.now:
            refusal = Refusal.EXPIRED
            promoted = self.leave(row, Status.EXPIRED)
        else:
            row.status, row.expires = Status.CONFIRMED, None
        action = store.accept_offer if accept else store.decline_offer
        outcome = self.run(
            self.write(
                action, signup_id=self.ids[key], user_id=row.user, now=self.now, rules=self.rules
            )
        )
        assert outcome.refusal == refusal
        assert outcome.signup.status == row.status
        assert self.promotions(outcome.promotions) == promoted

    @rule(
        data=st.data(),
        action=st.sampled_from([store.cancel, store.accept_offer, store.decline_offer]),
        stranger=st.booleans(),
    )
    def misuse(self, data, action, stranger):
        """Someone else's sign-up, one that does not exist, or an answer to no offer: refused,
        and (checked by the invariants) nothing changes."""
        key = self.pick(data)
        if key is None or stranger:
            signup_id = self.ids[key] if key else MISSING
            user = key[0] % len(USERS) + 1 if key else USERS[0]
            expected = Refusal.NOT_FOUND
        elif action is store.cancel or self.rows[key].status == Status.OFFERED:
            return  # covered by the rules above
        else:
            signup_id, user = self.ids[key], key[0]
            expected = Refusal.ALREADY
        outcome = self.run(
            self.write(action, signup_id=signup_id, user_id=user, now=self.now, rules=self.rules)
        )
        assert outcome.refusal == expected and outcome.promotions == ()

    @rule(
        hours=st.sampled_from([0.5, 3, 6, 13]),
        run_expiry=st.booleans(),
    )
    def advance_clock(self, hours, run_expiry):
        self.now += timedelta(hours=hours)
        if not run_expiry:
            return
        ran_out = sorted(
            (r for r in self.rows.values() if r.status == Status.OFFERED and r.expires <= self.now),
            key=lambda r: r.seq,
        )
        expected_expired = [(r.user, r.activity) for r in ran_out]
        promoted = []
        for row in ran_out:
            promoted += self.leave(row, Status.EXPIRED)
        expired, promotions = self.run(
            self.write(store.expire_offers, now=self.now, rules=self.rules)
        )
        assert [(s.user_id, s.activity_id) for s in expired] == expected_expired
        assert self.promotions(promotions) == promoted

    @rule(index=st.integers(0, 1), capacity=st.one_of(st.none(), st.integers(0, 5)))
    def change_capacity(self, index, capacity):
        place = self.places[index]
        if capacity is not None and place.seats_taken > capacity:
            expected = (False, [])
        else:
            place.capacity = capacity
            expected = (True, self.fill(place, P))
        changed, promotions = self.run(
            self.write(
                store.set_capacity,
                activity_id=place.id,
                capacity=capacity,
                now=self.now,
                rules=self.rules,
            )
        )
        assert (changed, self.promotions(promotions)) == expected

    @rule(index=st.integers(0, 1), party=st.integers(1, 3))
    def adds_guest(self, index, party):
        place = self.places[index]
        free = place.free(P)
        if place.starts_at <= self.now:
            expected = RosterRefusal.STARTED
        elif any(fits(free, r.party) for r in self.queue(place, P)) or not fits(free, party):
            expected = RosterRefusal.FULL  # guests never wait, nor go before those who do
        else:
            expected = None
        outcome = self.run(
            self.write(
                desk.add_guest,
                activity_id=place.id,
                name="Гость",
                party_size=party,
                by=0,
                now=self.now,
            )
        )
        assert outcome.refusal == expected
        if expected is None:
            place.guests[outcome.guest.id] = party
            place.move(P, party)
        else:
            assert outcome.guest is None

    @precondition(lambda self: any(p.guests for p in self.places))
    @rule(data=st.data(), wrong_activity=st.booleans())
    def removes_guest(self, data, wrong_activity):
        place = data.draw(st.sampled_from([p for p in self.places if p.guests]))
        guest_id = data.draw(st.sampled_from(sorted(place.guests)))
        activity_id = place.id
        promoted = []
        if wrong_activity:
            activity_id = next(p.id for p in self.places if p is not place)
            expected = RosterRefusal.GONE
        elif place.starts_at <= self.now:
            expected = RosterRefusal.STARTED
        else:
            expected = None
            place.move(P, -place.guests.pop(guest_id))
            promoted = self.fill(place, P)
        outcome = self.run(
            self.write(
                desk.remove_guest,
                activity_id=activity_id,
                guest_id=guest_id,
                now=self.now,
                rules=self.rules,
            )
        )
        assert outcome.refusal == expected
        assert self.promotions(outcome.promotions) == promoted

    def promotions(self, promotions) -> list[tuple]:
        by_id = {signup_id: key for key, signup_id in self.ids.items()}
        found = []
        for p in promotions:
            assert by_id[p.signup_id] == (p.user_id, p.activity_id)
            found.append((p.user_id, p.activity_id, p.status, p.expires_at))
        return found

    # --- invariants, read from the database --------------------------------------------------

    @invariant()
    def database_agrees(self):
        async def read():
            async with self.db.read() as conn:
                rows = (await conn.execute(select(signups).order_by(signups.c.id))).all()
                guests = (await conn.execute(select(guest_signups))).all()
                found = [await get_activity(conn, p.id) for p in self.places]
                positions = {
                    row.id: await store.waitlist_position(
                        conn, await store.get_signup(conn, row.id)
                    )
                    for row in rows
                    if row.status == Status.WAITLISTED
                }
                return rows, found, positions, guests

        rows, found, positions, guests = self.run(read())

        # One row per person and activity.
        keys = [(row.user_id, row.activity_id) for row in rows]
        assert len(keys) == len(set(keys))

        for activity in found:
            mine = [row for row in rows if row.activity_id == activity.id]
            for role, taken, limit in (
                (P, activity.seats_taken, activity.capacity),
                (V, activity.volunteers_taken, activity.volunteer_places),
            ):
                of_role = [row for row in mine if row.role == role]
                # The counter is the seats held (guests' too), and never more than there are.
                held = sum(r.party_size for r in of_role if r.status in HOLDS_SEATS)
                if role is P:
                    held += sum(g.party_size for g in guests if g.activity_id == activity.id)
                assert taken == held
                assert limit is None or taken <= limit
                # Waitlist positions are 1..N in sign-up order.
                waiting = [r for r in of_role if r.status == Status.WAITLISTED]
                assert [positions[r.id] for r in waiting] == list(range(1, len(waiting) + 1))
                # Nobody holding a seat or an offer is also waiting.
                holders = {r.user_id for r in of_role if r.status in HOLDS_SEATS}
                assert holders.isdisjoint(r.user_id for r in waiting)
                # No seat stays empty before the start while someone waiting would fit in it.
                if activity.starts_at > self.now:
                    free = None if limit is None else limit - taken
                    assert not any(fits(free, r.party_size) for r in waiting)
            for row in mine:
                if row.status == Status.OFFERED:
                    assert row.offer_expires_at is not None
                    assert row.offer_expires_at <= activity.starts_at - self.rules.offer_cutoff
                else:
                    assert row.offer_expires_at is None

        # Nobody who once left the waitlist (offered, confirmed, gone) goes back to it.
        for row in rows:
            if row.status == Status.WAITLISTED:
                assert row.id not in self.left_waitlist, row
            else:
                self.left_waitlist.add(row.id)

        # The model agrees on every row, in sign-up order, and on the counters.
        assert [
            (r.user_id, r.activity_id, r.role, r.party_size, r.status, r.offer_expires_at)
            for r in rows
        ] == [
            (r.user, r.activity, r.role, r.party, r.status, r.expires)
            for r in sorted(self.rows.values(), key=lambda r: r.seq)
        ]
        assert {(r.user_id, r.activity_id): r.id for r in rows} == self.ids
        for activity, place in zip(found, self.places, strict=True):
            assert {g.id: g.party_size for g in guests if g.activity_id == place.id} == place.guests
            assert (
                activity.capacity,
                activity.seats_taken,
                activity.volunteers_taken,
            ) == (place.capacity, place.seats_taken, place.volunteers_taken)


@pytest.fixture(autouse=True)
def backend(postgres):
    SignupMachine.cluster = postgres
    yield
    SignupMachine.cluster = None


SignupMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSignupSequences = SignupMachine.TestCase
