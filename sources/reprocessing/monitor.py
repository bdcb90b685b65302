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

from django.conf import settings
from django.db import transaction

from reprocessing import compute


def offline_flag() -> Path:
    return Path(getattr(settings, "CRDS_OFFLINE_FLAG", settings.CRDS_SERVER_DIR / "run" / "server_offline"))


def old_context_file() -> Path:
    return compute.reprocessing_dir() / "old_context.txt"


def check(chunk_size: int | None = None, previous: str = "") -> str:
    """One monitor pass; returns a line saying what it did.

    `previous` (the context a set context replaced) stands in for a missing
    old_context.txt, so the first set context of a server is computed too.
    """
    if offline_flag().exists():
        return f"server offline ({offline_flag()} exists): nothing done"
    resumed = compute.resume_stalled()
    said = "".join(f"; computation {cid}: {n} lost chunks sent again" for cid, n in resumed.items())
    old, current, outcome = _record_current(previous)
    if outcome:
        return outcome + said
    comp = compute.start(old, current, chunk_size=chunk_size)
    try:
        from interactive import cache

        cache.invalidate()
    except ImportError:
        pass
    return f"computation {comp.id} started for {old} --> {current}" + said


def _record_current(previous: str) -> tuple[str, str, str]:
    """(old, current, "") for a forward change to compute, else what was done instead.

    The latest pointer's row stays locked while old_context.txt is read and
    rewritten, so a set context's pass and a scheduled pass running together
    cannot both see the same change.
    """
    from interactive.models import ContextPointer

    with transaction.atomic():
        row = ContextPointer.objects.select_for_update().filter(kind="latest").first()
        current = row.context if row else ""
        if not current:
            return "", "", "no operational context yet: nothing done"
        path = old_context_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_text().strip() if path.exists() else previous
        path.write_text(current + "\n")
    if not old:
        return old, current, f"first run: recorded {current}"
    try:
        old_serial, new_serial = int(compute.context_serial(old)), int(compute.context_serial(current))
    except compute.ComputationError as exc:
        return old, current, f"old_context.txt held {old[:80]!r}, not a context ({exc}); recorded {current}"
    if new_serial == old_serial:
        return old, current, f"no change: {current}"
    if new_serial < old_serial:
        return old, current, f"reversion {old} --> {current} ignored"
    return old, current, ""
