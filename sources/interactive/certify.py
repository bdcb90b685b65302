"""Certify the files of a user's ingest area against a context with the crds library.

Results per file (OK / Warnings / Failed) with the crds log lines are stored
as a StoredResult, so the result page has a stable URL that the final jpoll
`done` message hands to the browser or the `crds submit` client.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from jpoll import service as jpoll

from interactive import catalog, contexts, storage
from interactive.models import USABLE_STATES, StoredResult
from interactive.web import strip_paths

RESULT_TEMPLATE = "interactive/certify_result.html"
PMAP_MODES = ("pmap_edit", "pmap_latest", "pmap_operational", "pmap_menu", "pmap_text")


class CertifyError(ValueError):
    """Certify cannot start; the message tells the user why."""


@dataclass
class FileResult:
    name: str
    status: str = "OK"
    lines: list[str] = field(default_factory=list)


class _ThreadCapture(logging.Handler):
    """Collects the CRDS logger's records emitted by this thread only.

    The crds library logs through one global logger; filtering by thread keeps
    concurrent certifies in one server process from mixing their reports.
    """

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.thread = threading.get_ident()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append(record)


def _crds_logger() -> logging.Logger:
    from crds.core import log as crds_log

    return crds_log.THE_LOGGER.logger


def check_usable_pmap(name: str) -> str:
    """`name` if it is a cataloged pmap of this server in a usable state (§3.1).

    Not only distributable ones: on an OPS server the edit context stays `delivered` until the
    archive takes it, and `crds submit --derive-from-context` names it (the original only
    required a known pmap).  Pending uploads are not contexts yet.  A bad pmap may be derived
    from, as the original allowed: the contexts generated from it are blacklisted (§3.4).
    """
    try:
        storage.check_filename(name)
        record = catalog.get_record(name)
    except (storage.BadName, catalog.UnknownFile) as exc:
        raise CertifyError(str(exc)) from None
    if record.observatory != settings.CRDS_OBSERVATORY or record.type != "mapping":
        raise CertifyError(f"File '{name}' is not a context of this server.")
    if record.state not in USABLE_STATES:
        raise CertifyError(f"File '{name}' is not yet available.")
    return name


def choose_context(pmap_mode: str, pmap_name: str = "") -> str:
    """The pmap to certify against: the edit or latest pointer, or a named usable pmap.

    `crds submit` sends `pmap_text` without the text, so `pmap_name` stands in for it.
    """
    if pmap_mode not in PMAP_MODES:
        raise CertifyError(f"Invalid pmap_mode {str(pmap_mode)[:40]!r}: use one of {', '.join(PMAP_MODES)}.")
    try:
        if pmap_mode == "pmap_edit":
            return contexts.pointer_context("edit")
        if pmap_mode in ("pmap_latest", "pmap_operational"):
            return contexts.pointer_context("latest")
    except contexts.ContextError as exc:
        raise CertifyError(str(exc)) from None
    if not isinstance(pmap_name, str) or not pmap_name.endswith(".pmap"):
        raise CertifyError(f"Invalid context {str(pmap_name)[:64]!r}: choose a .pmap.")
    return check_usable_pmap(pmap_name)


def ingested_files(user: str) -> list[str]:
    """Names of the regular files in the user's ingest area, as /upload/list/ shows them.

    Symbolic links are not files of the submitter's: one copied in by shell could name any
    file the server can read, which a submission would then catalog and distribute.
    """
    from fileupload.ingest import INGEST_NAME_RE

    folder = storage.ingest_dir(user)
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in os.scandir(folder)
                  if entry.is_file(follow_symlinks=False) and not entry.name.startswith(".")
                  and INGEST_NAME_RE.match(entry.name))


_frozen = 0
_frozen_lock = threading.Lock()


@contextlib.contextmanager
def older_objects_frozen() -> Iterator[None]:
    """Keep the objects that exist now out of the gc.collect() crds runs after every certify.

    crds' certify ends with a full collection to free the file data it read; over the whole
    heap of a server process (loaded rules, caches) that costs 0.07 s and more per file.
    Frozen (gc.freeze), the older objects are not scanned, so the collection still frees
    what the certify left and costs little; they are unfrozen, collectable as before, when
    the last certify running in the process ends.
    """
    global _frozen
    with _frozen_lock:
        _frozen += 1
        if _frozen == 1:
            gc.freeze()
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen -= 1
            if _frozen == 0:
                gc.unfreeze()


def certify_file(path: str, name: str, context: str, compare_old_reference: bool,
                 written_by_crds: bool = False) -> FileResult:
    """Run crds certify on one file and classify its log output.

    `written_by_crds` marks a mapping the server generated with the crds library (a loaded
    mapping written back by `Mapping.write`): crds' grammar pass, which only looks for the
    duplicate keys a hand edit can introduce, is skipped for it (`dont_parse`), since a mapping
    written from memory cannot hold any; it costs seconds for a large rmap.  Every other check
    runs.  Files from users are always parsed.
    """
    from crds.certify import certify as crds_certify

    def run() -> None:
        with older_objects_frozen():
            crds_certify.certify_file(
                path, context, compare_old_reference=compare_old_reference, original_name=name,
                observatory=settings.CRDS_OBSERVATORY, run_fitsverify=shutil.which("fitsverify") is not None,
                dont_parse=written_by_crds)

    return _captured(name, run)


def check_mapping_text(path: str, name: str) -> FileResult:
    """crds certify's grammar pass alone (syntax, duplicate keys) over an uploaded mapping.

    For a mapping that names other mappings of its own submission: the rest of certify needs
    those files in the cache, so it runs on the official copy once they have their official
    names, and the official copy, rewritten by crds, no longer shows the duplicates this finds.
    """
    from crds.certify import mapping_parser

    def run() -> None:
        mapping_parser.check_duplicates(mapping_parser.parse_mapping(path))

    return _captured(name, run)


def _captured(name: str, run: Callable[[], None]) -> FileResult:
    """Run a crds check and classify the log lines it wrote (this thread's only)."""
    capture = _ThreadCapture()
    logger = _crds_logger()
    logger.addHandler(capture)
    try:
        run()
    except Exception as exc:  # certify traps its own errors; anything else still only fails this file
        capture.records.append(logging.makeLogRecord({"levelno": logging.ERROR, "levelname": "ERROR",
                                                      "msg": f"Certify failed: {exc}"}))
    finally:
        logger.removeHandler(capture)
    result = FileResult(name)
    for record in capture.records:
        text = strip_paths(record.getMessage()).strip()
        if record.levelno >= logging.ERROR:
            result.status = "Failed"
        elif record.levelno >= logging.WARNING and result.status == "OK":
            result.status = "Warnings"
        if record.levelno >= logging.INFO and text and not set(text) <= {"#"}:
            result.lines.append(f"{record.levelname} - {text}")
    return result


def certify_ingest(user: str, context: str, compare_old_reference: bool = True, channel: str = "",
                   result_id: str = "", result_url: str = "") -> StoredResult:
    """Certify every file of `user`'s ingest area against `context`; store and announce the result.

    With a jpoll `channel`, progress goes there and the run ends with
    done(0, result_url), or done(1, <error>) when it cannot run at all.
    """
    try:
        files = ingested_files(user)
        if not files:
            raise CertifyError("Your ingest area is empty: upload the files to certify first.")
        results = []
        for i, name in enumerate(files, 1):
            if channel:
                jpoll.write(channel, f"Certifying '{name}' [{i} / {len(files)} files]")
            outcome = certify_file(str(storage.ingest_dir(user) / name), name, context, compare_old_reference)
            results.append(outcome)
            if channel:
                jpoll.write(channel, f"'{name}': {outcome.status}")
        result = StoredResult.objects.create(
            name=result_id or str(uuid.uuid4()), page_template=RESULT_TEMPLATE, user=user,
            parameters={
                "context": context,
                "compare_old_reference": compare_old_reference,
                "files": [vars(r) for r in results],
                "counts": {s: sum(r.status == s for r in results) for s in ("OK", "Warnings", "Failed")},
            })
    except Exception as exc:
        if channel and not isinstance(exc, jpoll.Aborted):
            message = str(exc) if isinstance(exc, CertifyError) else "internal server error"
            jpoll.fail(channel, message)
        raise
    if channel:
        jpoll.done(channel, jpoll.OK, result_url)
    return result
