"""Acquire, refresh, release and expire locks; the public surface for views, tasks and commands.

Race freedom comes from the database: the unique `locked_object` column lets
exactly one insert win, expired rows are taken over by a conditional delete,
and refreshes are conditional updates, so two servers or threads never both
believe they hold a lock.

Instrument locks belong to a user's login: a second login re-enters the same
lock and a logout in any session drops it (§8.3).  Every other lock, such as
the global context lock, belongs to one acquisition: it is never re-entered,
not even by its holder, and only the returned Lock releases it.
"""

from __future__ import annotations

import datetime
import re
import time

from django.db import IntegrityError, transaction

from locking.models import Lock

INSTRUMENT = "instrument"
INSTRUMENT_MAX_AGE = 4 * 3600  # seconds; slides forward with the holder's requests
LOGIN_TYPES = (INSTRUMENT,)  # re-entered by their holder, released at logout
LOGIN_TIMEOUT = 2.0  # seconds a login waits for a held instrument
REFRESH_GRANULARITY = 60  # seconds; a lock refreshed this recently is not written again
_PART_RE = re.compile(r"^[^$]{1,120}\Z")


class ResourceLockedError(Exception):
    """The object is locked by someone else."""

    def __init__(self, lock: Lock):
        self.lock = lock
        super().__init__(f"User '{lock.user}' has already locked {lock.type} '{lock.name}'.")


def _key(type_: str, name: str) -> str:
    for part in (type_, name):
        if not _PART_RE.match(part or ""):
            raise ValueError(f"Invalid lock name part {part!r}.")
    return f"{type_}${name}"


def _expiry(now: datetime.datetime, max_age: int) -> datetime.datetime | None:
    return now + datetime.timedelta(seconds=max_age) if max_age else None


def _try_acquire(key: str, type_: str, name: str, user: str, max_age: int) -> Lock:
    now = datetime.datetime.now()
    with transaction.atomic():
        # An expired lock of anyone is taken over: delete it so the insert below can win.
        Lock.objects.filter(locked_object=key, expires_on__lt=now).delete()
        existing = Lock.objects.select_for_update().filter(locked_object=key).first()
        if existing is not None:
            if existing.user != user or type_ not in LOGIN_TYPES:
                raise ResourceLockedError(existing)
            Lock.objects.filter(pk=existing.pk).update(expires_on=_expiry(now, max_age), max_age=max_age)
            existing.refresh_from_db()
            return existing
        try:
            with transaction.atomic():
                return Lock.objects.create(locked_object=key, type=type_, name=name, user=user,
                                           created_on=now, max_age=max_age, expires_on=_expiry(now, max_age))
        except IntegrityError:
            # Another request inserted it between our check and our insert.
            raise ResourceLockedError(Lock.objects.get(locked_object=key)) from None


def acquire(type_: str, name: str, user: str, max_age: int = 0, timeout: float = 0.0) -> Lock:
    """Take the lock `type_$name` for `user`, waiting up to `timeout` seconds.

    The holder re-acquiring an instrument lock keeps the same lock (same id);
    any other lock waits for its release even by its holder, so two operations
    of one user never both hold it.  Raises ResourceLockedError naming the
    owner when the lock stays held.
    """
    key = _key(type_, name)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _try_acquire(key, type_, name, user, max_age)
        except ResourceLockedError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))


def acquire_instrument(user: str, instrument: str, timeout: float = LOGIN_TIMEOUT) -> Lock:
    """Lock `instrument` for `user` at login, dropping any lock they hold on another instrument."""
    Lock.objects.filter(user=user, type=INSTRUMENT).exclude(name=instrument).delete()
    return acquire(INSTRUMENT, instrument, user, max_age=INSTRUMENT_MAX_AGE, timeout=timeout)


def instrument_lock(user: str) -> Lock | None:
    """The user's unexpired instrument lock, if any."""
    lock = Lock.objects.filter(user=user, type=INSTRUMENT).first()
    return None if lock is None or lock.is_expired() else lock


def held(type_: str, name: str) -> Lock | None:
    """The unexpired lock `type_$name`, whoever holds it."""
    lock = Lock.objects.filter(locked_object=_key(type_, name)).first()
    return None if lock is None or lock.is_expired() else lock


def refresh_instrument_lock(user: str) -> int:
    """Slide the expiry of `user`'s live instrument lock to now + 4 h; return rows changed.

    A conditional update: an expired lock stays dropped, and a lock refreshed
    within the last minute is not written again, so most requests cost one
    indexed UPDATE that touches nothing.
    """
    now = datetime.datetime.now()
    fresh = _expiry(now, INSTRUMENT_MAX_AGE)
    return Lock.objects.filter(
        user=user, type=INSTRUMENT, expires_on__gte=now,
        expires_on__lt=fresh - datetime.timedelta(seconds=REFRESH_GRANULARITY),
    ).update(expires_on=fresh)


def release(type_: str, name: str, user: str) -> bool:
    """Release one lock if `user` holds it."""
    return Lock.objects.filter(locked_object=_key(type_, name), user=user).delete()[0] > 0


def release_lock(lock: Lock) -> bool:
    """Release exactly the acquisition `lock`; False if it already expired and was taken over."""
    return Lock.objects.filter(pk=lock.pk, created_on=lock.created_on).delete()[0] > 0


def release_all(user: str) -> int:
    """Release the login locks `user` holds (logout, after a confirmed submission).

    Locks of running operations, such as a confirm's context lock, stay with
    the operation, which releases them itself.
    """
    return Lock.objects.filter(user=user, type__in=LOGIN_TYPES).delete()[0]


def clear_expired() -> int:
    """Delete expired lock rows; the periodic job."""
    return Lock.objects.filter(expires_on__lt=datetime.datetime.now()).delete()[0]


def status(user: str) -> dict:
    """The `/lock_status/<user>/` JSON the `crds submit` client reads (crds-protocol.md §7.3)."""
    lock = Lock.objects.filter(user=user, type=INSTRUMENT).first()
    if lock is None:
        return {"name": "", "user": user, "type": INSTRUMENT, "status": "error", "exception": "no lock found."}
    now = datetime.datetime.now()
    remaining = lock.time_remaining(now)
    left = "never" if remaining is None else str(datetime.timedelta(seconds=int(remaining.total_seconds())))
    return {
        "name": lock.name,
        "user": user,
        "type": lock.type,
        "status": "ok",
        "created_on": lock.created_on.strftime("%Y-%m-%d %H:%M:%S"),
        "is_expired": lock.is_expired(now),
        "time_remaining": left,
    }
