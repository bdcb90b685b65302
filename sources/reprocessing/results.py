"""Reading finished computations back from the reprocessing directory (get_affected_datasets)."""

from __future__ import annotations

import gzip
from pathlib import Path

from django.conf import settings
from interactive import catalog

from reprocessing import compute

SUMMARY_LINES = 500


class NoResults(LookupError):
    """No complete precomputed result for a transition."""


def _read(directory: Path, name: str) -> str | None:
    plain, packed = directory / name, directory / (name + ".gz")
    if packed.exists():
        with gzip.open(packed, "rt") as handle:
            return handle.read()
    if plain.exists():
        return plain.read_text()
    return None


def summarize(text: str) -> str:
    lines = text.splitlines()
    if len(lines) > 2 * SUMMARY_LINES:
        lines = lines[:SUMMARY_LINES] + ["..."] + lines[-SUMMARY_LINES:]
    return "\n".join(lines)


def _serial(context: str | None, missing: NoResults) -> str:
    """The serial that names result directories ('*': any).

    A cataloged pipeline mapping without one, such as the bootstrap hst.pmap that opens every
    context history, simply has no results: `crds query_affected -i` walks the history from
    there and must be told "no results" (which it skips), not "invalid context" (which stops it).
    """
    if not context:
        return "*"
    try:
        return compute.context_serial(context)
    except compute.ComputationError:
        if catalog.cataloged().filter(name=context, type="mapping").exists():
            raise missing from None
        raise


def affected_datasets(old_context: str | None, new_context: str | None) -> dict:
    """The last computation for old → new (either may be None: any), as get_affected_datasets returns it."""
    missing = NoResults(f"No precomputed affected datasets results exist for old_context={old_context!r} "
                        f"and new_context={new_context!r}")
    old, new = _serial(old_context, missing), _serial(new_context, missing)
    found = sorted(p for p in compute.reprocessing_dir().glob(f"*_{old}_{new}") if p.is_dir())
    if not found:
        raise missing
    directory = found[-1]
    try:
        status = int((_read(directory, "bestrefs.status") or "").strip())
    except ValueError:
        raise missing from None
    ids = (_read(directory, "affected_ids.txt") or "").split()
    log = _read(directory, "bestrefs_err_truncated.txt")
    if log is None:
        log = _read(directory, "bestrefs_err.txt") or ""
    _stamp, old_serial, new_serial = directory.name.rsplit("_", 2)
    obs = settings.CRDS_OBSERVATORY
    return {
        "computation_dir": directory.name,
        "observatory": obs,
        "affected_ids": ids,
        "bestrefs_status": status,
        "old_context": f"{obs}_{old_serial}.pmap",
        "new_context": f"{obs}_{new_serial}.pmap",
        "bestrefs_err_summary": summarize(log),
    }
