"""Invalidation of everything derived from the catalog (server info, name lists ...).

Derived values are keyed by a *catalog generation*: a random token kept in
the Django cache (memcached in production, so every worker agrees).  Any
change to the catalog or a context pointer calls `invalidate()`, which draws
a new token; values built under the old token are never read again.  A cache
restart loses the token, which simply starts a new generation.

Saves of FileRecord, ContextPointer, ContextHistory and BuildContext
invalidate automatically once their transaction commits (signals connected by
`connect_signals`).  Bulk operations that bypass save() — queryset.update(),
bulk_create(), raw SQL — must call `invalidate()` themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "catalog-generation"

def generation() -> str:
    """The current catalog generation token.

    Without a working cache every call is a new generation: derived values are
    rebuilt each time rather than served stale.
    """
    token = cache.get(GENERATION_KEY)
    if token is None:
        cache.add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        token = cache.get(GENERATION_KEY) or uuid.uuid4().hex
    return token


def invalidate() -> None:
    """Start a new catalog generation: every derived value is rebuilt on next use."""
    cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    _seen_distributable.clear()


def invalidate_on_commit() -> None:
    """Invalidate now and again when the current transaction commits.

    Invalidating only before commit would let a concurrent request rebuild
    from the old rows under the new generation; invalidating now as well makes
    the change visible at once inside the transaction (and in TestCase tests).
    """
    invalidate()
    connection = transaction.get_connection()
    if connection.in_atomic_block and not any(entry[1] is invalidate for entry in connection.run_on_commit):
        transaction.on_commit(invalidate)


def cached(name: str, build: Callable[[], Any], timeout: int | None = 24 * 3600) -> Any:
    """`build()`'s value for this catalog generation, shared through the Django cache.

    Values too large for the cache backend are simply rebuilt next time.
    """
    key = f"{name}:{generation()}"
    value = cache.get(key)
    if value is None:
        value = build()
        try:
            cache.set(key, value, timeout=timeout)
        except Exception:  # e.g. larger than memcached's item limit
            pass
    return value


def _on_change(sender, **kwargs) -> None:
    invalidate_on_commit()


def connect_signals() -> None:
    """Invalidate on every save or delete of the models derived values come from."""
    from django.db.models.signals import post_delete, post_save

    from interactive.models import BuildContext, ContextHistory, ContextPointer, FileRecord

    for model in (FileRecord, ContextPointer, ContextHistory, BuildContext):
        post_save.connect(_on_change, sender=model, dispatch_uid=f"catalog-cache-{model.__name__}-save")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"catalog-cache-{model.__name__}-delete")


_memos: dict[str, tuple[str, Any]] = {}

# Files this process has seen distributable.  A confirmed file never leaves distribution while
# the server runs (bad files are still served, with warnings), so this answer needs no
# generation lookup: best references on a literal context touch neither database nor memcached.
# A restore from backup can take files back out; its workers forget them (forget_in_process).
_seen_distributable: set[str] = set()


def seen_distributable(name: str) -> bool:
    return name in _seen_distributable


def see_distributable(name: str) -> None:
    _seen_distributable.add(name)


def forget_in_process() -> None:
    """Drop this process's memos (after a restore replaced the catalog under the same generation)."""
    _memos.clear()
    _seen_distributable.clear()


def memo(name: str, build: Callable[[], Any]) -> Any:
    """`build()`'s value for this catalog generation, kept in this process's memory.

    For values read on nearly every request (e.g. the index of distributable
    files): one cache lookup of the generation token, no query and no copy.
    """
    generation_now = generation()
    held = _memos.get(name)
    if held is None or held[0] != generation_now:
        held = _memos[name] = (generation_now, build())
    return held[1]


def distributable_index() -> dict[str, tuple[str, bool, str]]:
    """{name: (type, present, sha1sum)} of every distributable file, per catalog generation."""
    def build() -> dict[str, tuple[str, bool, str]]:
        from interactive import catalog

        rows = catalog.distributable().values_list("name", "type", "present", "sha1sum")
        return {name: (kind, present, sha1sum) for name, kind, present, sha1sum in rows.iterator(chunk_size=5000)}

    return memo("distributable-index", build)
