"""monitor_reprocessing: notice a newer operational context and compute its affected datasets.

Run every 5 minutes (host/monitor_reprocessing from cron, or Celery beat), and
right after a set context of the operational (latest) context commits.  The
last context seen is kept in `old_context.txt` in the reprocessing directory;
editing it by hand re-triggers a run.  Reversions (a lower serial) are
recorded but not computed, and nothing happens while the server is offline
for maintenance (the flag file settings.CRDS_OFFLINE_FLAG exists).  Each pass
also sends again the chunks that lost their workers (compute.resume_stalled).
"""

from __future__ import annotations

from pathlib import Path

from django.db import transaction
from operations import backup

from reprocessing import compute


def old_context_file() -> Path:
    return compute.reprocessing_dir() / "old_context.txt"


class MonitorError(Exception):
    """A change could not be computed; old_context.txt still names the old context, so the next pass retries."""


def check(chunk_size: int | None = None, previous: str = "") -> str:
    """One monitor pass; returns a line saying what it did, or raises MonitorError (one line).

    `previous` (the context a set context replaced) stands in for a missing
    old_context.txt, so the first set context of a server is computed too.
    """
    if backup.is_offline():
        return f"server offline ({backup.offline_flag()} exists): nothing done"
    resumed = compute.resume_stalled()
    said = "".join(f"; computation {cid}: {n} lost chunks sent again" for cid, n in resumed.items())
    recorded, old, current, outcome = _record_current(previous)
    if outcome:
        return outcome + said
    try:
        comp = compute.start(old, current, chunk_size=chunk_size, dispatch=False)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:300] or "no details"
        raise MonitorError(f"computation {old} --> {current} not started ({exc.__class__.__name__}: {reason}); "
                           f"{old} kept as the last context seen, the next pass tries again") from None
    if not _advance(recorded, current):
        comp.delete()
        return f"{old} --> {current} already taken by another pass: nothing done" + said
    compute.dispatch_pending(comp)
    try:
        from interactive import cache

        cache.invalidate()
    except ImportError:
        pass
    return f"computation {comp.id} started for {old} --> {current}" + said


def _read_old_context() -> str | None:
    path = old_context_file()
    return path.read_text() if path.exists() else None


def _write_old_context(context: str) -> None:
    path = old_context_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(context + "\n")


def _lock_latest():
    """The latest pointer's row, locked until the caller's transaction ends; None before any context."""
    from interactive.models import ContextPointer

    return ContextPointer.objects.select_for_update().filter(kind="latest").first()


def _record_current(previous: str) -> tuple[str | None, str, str, str]:
    """(old_context.txt as read, old, current, "") for a forward change to compute, else what was done instead.

    The latest pointer's row stays locked while old_context.txt is read and,
    unless there is a change to compute, rewritten: a set context's pass and a
    scheduled pass running together cannot both see the same change.  A
    forward change is recorded only once its computation has started
    (`_advance`), so a failed start is tried again by the next pass.
    """
    with transaction.atomic():
        row = _lock_latest()
        current = row.context if row else ""
        if not current:
            return None, "", "", "no operational context yet: nothing done"
        recorded = _read_old_context()
        old = recorded.strip() if recorded is not None else previous
        outcome = _outcome(old, current)
        if outcome:
            _write_old_context(current)
    return recorded, old, current, outcome


def _outcome(old: str, current: str) -> str:
    """What a pass does instead of computing old → current, or "" when it is a forward change."""
    if not old:
        return f"first run: recorded {current}"
    try:
        old_serial, new_serial = int(compute.context_serial(old)), int(compute.context_serial(current))
    except compute.ComputationError as exc:
        return f"old_context.txt held {old[:80]!r}, not a context ({exc}); recorded {current}"
    if new_serial == old_serial:
        return f"no change: {current}"
    if new_serial < old_serial:
        return f"reversion {old} --> {current} ignored"
    return ""


def _advance(recorded: str | None, current: str) -> bool:
    """Record `current` in old_context.txt unless another pass changed the file since it was read."""
    with transaction.atomic():
        _lock_latest()
        if _read_old_context() != recorded:
            return False
        _write_old_context(current)
    return True
