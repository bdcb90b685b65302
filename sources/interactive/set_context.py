"""Set Context: move a context pointer (latest, edit, versions, build) (server-behaviour.md §4.3).

Making a context latest also records activation dates, moves file states
(files in the new closure become `latest`; files leaving it return to their
archive status) and records which files the new context replaces.  The
latest context never contains a rejected file: this refuses such a context,
and Mark Bad refuses files of the latest context.
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from crds import diff as crds_diff
from django.conf import settings
from django.db import transaction

from interactive import cache, catalog, contexts, delivery, mail, storage
from interactive.models import (
    ACTIVATION_PLACEHOLDER,
    ARCHIVED,
    LATEST,
    TRANSITORY_STATES,
    USABLE_STATES,
    BuildContext,
    ContextPointer,
    FileRecord,
)

log = logging.getLogger(__name__)

CHUNK = 2000  # names per IN (...) query; SQLite limits bound parameters
DESCRIPTION_RE = re.compile(r"^[A-Za-z0-9._\s/,=\-+]{1,2000}\Z")  # the submission forms' pattern
CAL_VER_RE = re.compile(r"^[A-Za-z0-9._\-+]{1,64}\Z")


class SetContextError(Exception):
    """The context cannot be set; the message tells the operator why."""


@dataclass
class SetContextResult:
    kind: str
    old_context: str
    new_context: str
    description: str
    replaced: dict[str, str] = field(default_factory=dict)
    activated: int = 0
    mail_sent: bool = False


def _chunks(names: Iterable[str]) -> Iterable[list[str]]:
    names = sorted(names)
    for start in range(0, len(names), CHUNK):
        yield names[start:start + CHUNK]


def closure(context: str) -> set[str]:
    """Every mapping and reference a context names, with GEIS data-file partners (.rNh -> .rNd)."""
    try:
        names = set(contexts.mapping_closure(context)) | set(contexts.reference_closure(context))
    except contexts.ContextError as exc:
        raise SetContextError(str(exc)) from None
    return names | {n[:-1] + "d" for n in names if re.search(r"\.r\dh$", n)}


def lock_latest() -> str:
    """The latest context, its pointer row locked until the caller's transaction ends.

    Set Context and Mark Bad both take this lock and then repeat their checks,
    so neither can act on a latest context the other has just changed (§7).
    MariaDB locks the row (SELECT ... FOR UPDATE); on SQLite, where that is a
    no-op, every transaction begins IMMEDIATE and so already holds the one
    write lock.
    """
    row, _ = ContextPointer.objects.select_for_update().get_or_create(kind="latest", defaults={"context": ""})
    return row.context


def rejected_in(names: set[str]) -> list[str]:
    found: list[str] = []
    for chunk in _chunks(names):
        found.extend(FileRecord.objects.filter(name__in=chunk, rejected=True).values_list("name", flat=True))
    return sorted(found)


def replacements(old: str, new: str) -> dict[str, str]:
    """{replaced file: its replacement} from the crds logical difference of two contexts."""
    if not old or old == new:
        return {}
    found: dict[str, str] = {}
    try:
        differences = crds_diff.mapping_diffs(old, new, include_header_diffs=False)
    except Exception as exc:
        log.warning("Cannot difference %s and %s: %s", old, new, exc)
        return {}
    for difference in differences:
        try:
            action = crds_diff.diff_action(difference)
        except ValueError:
            continue
        if action != "replace":
            continue
        replaced, replacement = crds_diff.diff_replace_old_new(difference)
        if replaced and replacement and replaced != replacement:
            found[replaced] = replacement
    return found


def record_meta_event(text: str) -> None:
    """Append to server_logs/meta_events.log, the append-only record of pointer changes (§2.2)."""
    path = settings.CRDS_ROOT / "server_logs" / "meta_events.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as out:
            out.write(f"{datetime.datetime.now().isoformat(sep=' ', timespec='seconds')} {text}\n")
    except OSError:
        log.exception("Cannot write the meta event log")


def check_context(kind: str, context: str) -> tuple[str, str]:
    """Validate a request; returns (kind, current pointer).  Raises SetContextError."""
    try:
        kind = contexts.normalise_kind(kind)
        storage.check_filename(context)
    except (ValueError, storage.BadName) as exc:
        raise SetContextError(str(exc)) from None
    if not context.endswith(".pmap"):
        raise SetContextError(f"'{context}' is not a pipeline context (.pmap).")
    try:
        record = catalog.get_record(context)
    except catalog.UnknownFile as exc:
        raise SetContextError(str(exc)) from None
    if not record.available:
        raise SetContextError(f"Context '{context}' is not yet available. Files must be successfully "
                              "delivered to the archive before operational use.")
    old = contexts.get_pointer(kind)
    if old == context:
        raise SetContextError(f"Context '{context}' is already in use for the {kind} context.")
    return kind, old


def clean_closure(context: str) -> set[str]:
    """The closure of a context about to become latest; refused if any file in it is rejected (§4.3 rule 3)."""
    names = closure(context)
    bad = rejected_in(names)
    if bad:
        shown = ", ".join(bad[:4]) + (" ..." if len(bad) > 4 else "")
        raise SetContextError(f"Context '{context}' contains known bad files and cannot be made the default: "
                              f"{shown}")
    return names


def set_context(kind: str, context: str, description: str, user: str, cal_ver: str = "",
                now: datetime.datetime | None = None) -> SetContextResult:
    """Make `context` the `kind` context; the whole change commits together or not at all."""
    if not description or not DESCRIPTION_RE.match(description):
        raise SetContextError("A description is required: up to 2000 letters, digits, spaces and . _ / , = - +")
    kind, _old = check_context(kind, context)
    if kind == "build" and (not cal_ver or not CAL_VER_RE.match(cal_ver)):
        raise SetContextError("A build context needs a calibration software version (CAL_VER), e.g. 1.14.0.")
    if kind == "latest":
        clean_closure(context)  # refuse early; loads the rules outside the transaction
    now = now or datetime.datetime.now()
    with transaction.atomic():
        names: set[str] = set()
        if kind == "latest":
            lock_latest()
            names = clean_closure(context)  # again: a file may have been marked bad meanwhile
        old = contexts.get_pointer(kind)
        if old == context:  # another operator got there first
            raise SetContextError(f"Context '{context}' is already in use for the {kind} context.")
        contexts.set_pointer(kind, context, description, when=now)
        result = SetContextResult(kind, old, context, description)
        if kind == "latest":
            result.activated = _activate(names, now)
            _move_states(names)
            result.replaced = replacements(old, context)
            for replaced, replacement in result.replaced.items():
                FileRecord.objects.filter(name=replaced).update(replaced_by_filename=replacement)
            transaction.on_commit(lambda: _start_reprocessing(old), robust=True)
        elif kind == "build":
            BuildContext.objects.update_or_create(cal_ver=cal_ver, defaults={"context": context})
        details = f"{kind} context changed from '{old}' to '{context}'"
        catalog.audit("set default context", context, user, why=description, details=details)
        cache.invalidate_on_commit()
    record_meta_event(f"set {kind} context {old or 'none'} -> {context} by {user}")
    result.mail_sent = mail.send(
        f"Update {kind} context from '{old}' to '{context}'.",
        f"User: {user} ({mail.person(user)})\nContext kind: {kind}\nOld context: {old}\nNew context: {context}\n"
        f"Description: {description}\n", user)
    return result


def _start_reprocessing(old: str) -> None:
    """Compute the datasets the new operational context affects now, not at the monitor's next pass.

    The monitor's own pass (a Celery task: a worker in production, in-process
    when embedded) decides, so reversions and the offline state are respected
    and the scheduled pass later finds the change already recorded.
    """
    from reprocessing import tasks

    tasks.monitor_reprocessing.delay(previous=old)


def _activate(names: set[str], now: datetime.datetime) -> int:
    """Set the first activation date of files that are part of a latest context for the first time."""
    count = 0
    for chunk in _chunks(names):
        count += FileRecord.objects.filter(name__in=chunk, activation_date=ACTIVATION_PLACEHOLDER).update(
            activation_date=now)
    return count


def _move_states(names: set[str]) -> None:
    """Closure files become latest; files leaving latest return to their archive status (§3.3)."""
    for chunk in _chunks(names):
        FileRecord.objects.filter(name__in=chunk, state__in=USABLE_STATES).exclude(state=LATEST).update(state=LATEST)
    leaving = FileRecord.objects.filter(state=LATEST).values_list("name", "catalog_link")
    back: dict[str, list[str]] = {}
    for name, link in leaving:
        if name not in names:
            status = delivery.catalog_status(link)
            back.setdefault(status if status in TRANSITORY_STATES else ARCHIVED, []).append(name)
    for state, gone in back.items():
        for chunk in _chunks(gone):
            FileRecord.objects.filter(name__in=chunk, state=LATEST).update(state=state)
