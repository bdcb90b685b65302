"""monitor_reprocessing: notice a newer operational context and compute its affected datasets.

Run every 5 minutes (host/monitor_reprocessing from cron, or Celery beat).
The last context seen is kept in `old_context.txt` in the reprocessing
directory; editing it by hand re-triggers a run.  Reversions (a lower serial)
are recorded but not computed, and nothing happens while the server is
offline for maintenance (the flag file settings.CRDS_OFFLINE_FLAG exists).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from reprocessing import compute


def offline_flag() -> Path:
    return Path(getattr(settings, "CRDS_OFFLINE_FLAG", settings.CRDS_SERVER_DIR / "run" / "server_offline"))


def old_context_file() -> Path:
    return compute.reprocessing_dir() / "old_context.txt"


def check(chunk_size: int | None = None) -> str:
    """One monitor pass; returns a line saying what it did."""
    from interactive import contexts

    if offline_flag().exists():
        return f"server offline ({offline_flag()} exists): nothing done"
    current = contexts.get_pointer("latest")
    if not current:
        return "no operational context yet: nothing done"
    path = old_context_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text().strip() if path.exists() else ""
    path.write_text(current + "\n")
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
    comp = compute.start(old, current, chunk_size=chunk_size)
    try:
        from interactive import cache

        cache.invalidate()
    except ImportError:
        pass
    return f"computation {comp.id} started for {old} --> {current}"
