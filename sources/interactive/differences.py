"""Differences between two files, computed by the crds library.

Mappings: the logical differences of crds.diff.mapping_diffs (recursing
from a pmap through its imaps to the rmaps) and a unified text diff of every
changed pair.  References: the output of `crds diff`, run as a subprocess so
that its printing cannot mix with other requests; only for files held locally.

Each side is a cataloged file or, for a logged-in user, a file of their own
ingest area; only differences of two cataloged files are cached.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from crds import diff as crds_diff

from interactive import cache, catalog, storage

MAX_TEXT_DIFF_LINES = 20_000
DIFF_TIMEOUT = 120


class DifferenceError(ValueError):
    """Two files that cannot be differenced, with the reason."""


@dataclass(frozen=True)
class Side:
    """One file of a comparison: the name shown and where its bytes are."""

    name: str
    path: Path
    uploaded: bool = False


@dataclass
class LogicalDiff:
    mappings: list[tuple[str, str]]  # (old, new) at each level, pmap first
    selector: list[str]  # matching-parameter steps below the rmap
    action: str  # add, delete, replace, ... as crds.diff.diff_action names them
    text: str  # crds's own description of the change


def cataloged(name: str) -> Side:
    """A cataloged file (pending uploads are not cataloged files)."""
    storage.check_filename(name)
    record = catalog.get_record(name)
    if record.state in ("uploaded", "cancelled"):
        raise catalog.UnknownFile(f"File '{name}' is not known to CRDS.")
    return Side(name, storage.cache_path(name))


def ingested(user: str, name: str) -> Side:
    """A file of `user`'s own ingest area."""
    from fileupload import ingest

    try:
        ingest.check_ingest_name(name)
    except ingest.UploadError as exc:
        raise DifferenceError(str(exc)) from None
    path = storage.ingest_dir(user) / name
    if not path.is_file():
        raise DifferenceError(f"'{name}' is not in your ingest area.")
    return Side(name, path, uploaded=True)


def check_pair(old: Side, new: Side) -> None:
    if storage.is_mapping(old.name) != storage.is_mapping(new.name):
        raise DifferenceError(f"Cannot difference a mapping with a reference: '{old.name}' and '{new.name}'.")
    if os.path.splitext(old.name)[1] != os.path.splitext(new.name)[1]:
        raise DifferenceError(f"Files '{old.name}' and '{new.name}' are not the same kind of file.")


def _action(diff: tuple) -> str:
    try:
        return crds_diff.diff_action(diff)
    except ValueError:
        return "other"


def logical_differences(old: Side, new: Side) -> list[LogicalDiff]:
    """crds's logical differences of two mappings, with paths removed."""
    diffs = crds_diff.mapping_diffs(str(old.path), str(new.path), include_header_diffs=True, hide_boring_diffs=True)
    top = (old.path.name, new.path.name)
    rows = []
    for diff in sorted(crds_diff.remove_diff_paths(d) for d in crds_diff.remove_boring(diffs)):
        mappings = [step for step in diff[:-1]
                    if len(step) == 2 and isinstance(step[0], str) and storage.is_mapping(step[0])]
        selector = [" ".join(map(str, step)) if isinstance(step, tuple) else str(step)
                    for step in diff[:-1] if step not in mappings]
        mappings = [(old.name, new.name) if tuple(pair) == top else tuple(pair) for pair in mappings]
        rows.append(LogicalDiff(mappings=mappings, selector=selector, action=_action(diff), text=str(diff[-1])))
    return rows


def changed_pairs(old: Side, new: Side, rows: list[LogicalDiff]) -> list[tuple[Side, Side]]:
    """Every pair of mappings the logical differences pass through, top level first."""
    pairs = {(old.name, new.name)}
    for row in rows:
        pairs.update(tuple(p) for p in row.mappings)
    order = {".pmap": 0, ".imap": 1, ".rmap": 2}
    sides = {old.name: old, new.name: new}
    return [(sides.get(a) or cataloged(a), sides.get(b) or cataloged(b))
            for a, b in sorted(pairs, key=lambda p: (order.get(os.path.splitext(p[0])[1], 3), p))]


def text_difference(old: Side, new: Side) -> list[str]:
    """A unified diff of two mapping files' text."""
    for side in (old, new):
        if not side.path.exists():
            raise DifferenceError(f"Mapping '{side.name}' is cataloged but not in the server's file cache.")
    a, b = (side.path.read_text(errors="replace").splitlines() for side in (old, new))
    lines = list(difflib.unified_diff(a, b, fromfile=old.name, tofile=new.name, lineterm=""))
    if len(lines) > MAX_TEXT_DIFF_LINES:
        lines = lines[:MAX_TEXT_DIFF_LINES] + [f"... {len(lines) - MAX_TEXT_DIFF_LINES} more lines not shown"]
    return lines


def reference_difference(old: Side, new: Side) -> str:
    """The `crds diff` report for two references held locally."""
    missing = [side.name for side in (old, new) if not side.path.exists()]
    if missing:
        raise DifferenceError("Only references held by this server can be differenced; not here: "
                              + ", ".join(missing) + ".")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "crds.diff", str(old.path), str(new.path)],
            capture_output=True, text=True, timeout=DIFF_TIMEOUT, env=dict(os.environ), check=False,
        )
    except subprocess.TimeoutExpired:
        raise DifferenceError(
            f"Differencing '{old.name}' and '{new.name}' took longer than {DIFF_TIMEOUT} s.") from None
    output = (result.stdout + result.stderr).strip()
    if result.returncode not in (0, 1):
        raise DifferenceError(f"crds diff failed: {output[-2000:]}")
    return output or "No differences."


def compare(old: Side, new: Side) -> dict:
    """Everything the difference page shows for two files."""
    check_pair(old, new)
    if storage.is_mapping(old.name):
        rows = logical_differences(old, new)
        texts = [(a.name, b.name, text_difference(a, b)) for a, b in changed_pairs(old, new, rows)]
        return {"kind": "mapping", "logical": rows, "texts": texts, "report": ""}
    return {"kind": "reference", "logical": [], "texts": [], "report": reference_difference(old, new)}


def difference(old: str, new: str) -> dict:
    """The difference of two cataloged files, cached for the catalog generation."""
    sides = cataloged(old), cataloged(new)
    check_pair(*sides)
    key = hashlib.sha1(f"{old}\n{new}".encode()).hexdigest()  # two names may exceed memcached's 250 bytes
    return cache.cached(f"difference:{key}", lambda: compare(*sides))
