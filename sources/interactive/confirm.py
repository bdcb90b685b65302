"""Confirm, cancel or force a READY submission (server-behaviour.md §5.5).

Only one decision is ever taken for a result: the disposition moves from ""
to "finalizing" by a conditional update before anything else happens.
Confirm generates the imaps and pmap from the derive-from context as it is
*now*, under the global context lock, and keeps that lock until the files
are delivered and the edit pointer has moved, so concurrent confirms for
different instruments chain (defect §16.9).  A failure after "finalizing"
undoes what the confirm made and returns the result to "" (defect §16.6).
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from interactive import badfiles, cache, certify, contexts, delivery, mail, naming, set_context, storage, submission
from interactive.models import UPLOADED, FileRecord, StoredResult

log = logging.getLogger(__name__)

BUTTONS = ("confirm", "cancel", "force")
CONFIRMED_TEMPLATE = "interactive/submission_confirmed.html"
CONTEXT_LOCK = ("context", "all")
CONTEXT_LOCK_WAIT = 24 * 3600.0  # seconds: in practice, without limit
CONTEXT_LOCK_MAX_AGE = 4 * 3600  # seconds: a lock left by a killed worker is taken over after this (§8.2)
# The CONFIRMED / CANCELED / FORCED mails name the submission kind so (§10).
KIND_TITLES = {"batch submit": "Batch Submit", "submit file": "Submit File", "delete references": "Delete References",
               "add references": "Add References"}


class ConfirmError(Exception):
    """The decision cannot be carried out; the message says why.  Nothing changed."""


@dataclass
class Decision:
    result: StoredResult       # the READY result
    confirmation: StoredResult  # the confirmation page
    disposition: str


def load(result_id: str) -> StoredResult:
    result = StoredResult.objects.filter(name=str(result_id)[:64]).first()
    if result is None or result.page_template != submission.READY_TEMPLATE:
        raise ConfirmError(f"Unknown submission result '{str(result_id)[:64]}'.")
    return result


def check_lock(result: StoredResult, button: str, user: str, lock, is_superuser: bool) -> None:
    """§5.5.2: confirm needs the submitter and the same lock; cancel/force a lock on the instrument.

    A result an unlocked superuser made records no lock: its submitter decides without one, anyone
    else who is not a superuser needs the lock on the instrument of its files.
    """
    params = result.parameters
    if button == "confirm":
        if user != result.user:
            raise ConfirmError(f"Only the submitter '{result.user}' can confirm this submission; "
                               "use 'force' to confirm it for them.")
        wanted = params.get("should_still_be_locked") or ""
        if wanted and (lock is None or lock.lock_id != wanted):
            raise ConfirmError("BROKEN LOCK: the instrument lock this submission was made under has been lost. "
                               "Use 'force' to confirm anyway.")
        return
    if is_superuser:
        return
    locked = params.get("locked_instrument") or ""
    if not locked and user == result.user:
        return
    instrument = locked or params.get("instrument") or ""
    if not instrument:
        raise ConfirmError(f"Only the submitter '{result.user}' or a superuser can {button} this submission.")
    if lock is None or lock.name != instrument:
        raise ConfirmError(f"You must hold the lock on instrument '{instrument}' to {button} this submission.")


def claim(result: StoredResult) -> bool:
    """Atomically move the disposition from "" to "finalizing"; False if someone else decided first."""
    with transaction.atomic():
        row = StoredResult.objects.select_for_update().get(pk=result.pk)
        if row.parameters.get("disposition", "") != "":
            return False
        row.parameters["disposition"] = "finalizing"
        row.save(update_fields=["parameters"])
    result.refresh_from_db()
    return True


def _set_disposition(result: StoredResult, disposition: str, **extra) -> None:
    with transaction.atomic():
        row = StoredResult.objects.select_for_update().get(pk=result.pk)
        row.parameters.update(extra, disposition=disposition)
        row.save(update_fields=["parameters"])
    result.refresh_from_db()


def decide(result_id: str, button: str, user: str, lock=None, is_superuser: bool = False,
           result_url=lambda rid: f"/display_result/{rid}") -> Decision:
    """Carry out `button` on a READY result for `user` holding `lock` (or None)."""
    if button not in BUTTONS:
        raise ConfirmError(f"Unknown action {str(button)[:16]!r}: use confirm, cancel or force.")
    result = load(result_id)
    if result.parameters.get("disposition") == "bad files" and button != "cancel":
        raise ConfirmError("Files of this submission failed certification; it cannot be confirmed.")
    if result.parameters.get("disposition", "") != "":
        raise ConfirmError("This submission was already confirmed or cancelled.")
    check_lock(result, button, user, lock, is_superuser)
    if not claim(result):
        raise ConfirmError("This submission was already confirmed or cancelled.")
    try:
        if button == "cancel":
            outcome = _cancel(result)
            disposition = "canceled"
        else:
            outcome = _confirm(result, user)
            disposition = "confirmed" if button == "confirm" else "forced"
    except BaseException:
        _set_disposition(result, "")
        raise
    recorded = {k: v for k, v in outcome.items() if k in ("pmap", "original_pmap", "final_pmap")}
    _set_disposition(result, disposition, **recorded)
    confirmation = StoredResult.objects.create(
        name=str(uuid.uuid4()), page_template=CONFIRMED_TEMPLATE, user=result.user, requires_authentication=True,
        parameters={**outcome, "disposition": disposition, "ready_result": result.name,
                    "ready_url": result_url(result.name), "description": result.parameters.get("description", ""),
                    "submission_kind": result.parameters.get("submission_kind", ""), "decided_by": user,
                    "new_file_map": result.parameters.get("new_file_map", {}),
                    "uploaded_basenames": result.parameters.get("uploaded_basenames", [])})
    kind = KIND_TITLES.get(result.parameters.get("submission_kind", ""), "Submission")
    files = "".join(f"{a} --> {b}\n" for a, b in result.parameters.get("new_file_map", {}).items())
    generated = "".join(f"{name}\n" for name in outcome.get("generated", []))
    mail.send(f"{disposition.upper()} {kind} by {mail.person(user)}",
              f"Final Results: {result_url(confirmation.name)}\nConfirm/Cancel Url: {result_url(result.name)}\n"
              f"Description: {result.parameters.get('description', '')}\nUploaded files:\n{files}"
              f"Generated files:\n{generated}", user, confirm_list=True)
    return Decision(result, confirmation, disposition)


def release_stuck(result_id: str, ignore_context_lock: bool = False) -> str:
    """Return a result left "finalizing" by a confirm whose process died to "" (§16.6), so that its
    submitter can confirm or cancel it again; only while none of its files was delivered.

    A confirm holds the context lock while it runs, so a held lock means one may still be running.
    """
    from locking import service as locks

    result = load(result_id)
    disposition = result.parameters.get("disposition", "")
    if disposition != "finalizing":
        raise ConfirmError(f"Submission '{result.name}' is not being finalized "
                           f"({disposition or 'it awaits a decision'}): nothing to release.")
    lock = locks.held(*CONTEXT_LOCK)
    if lock is not None and not ignore_context_lock:
        raise ConfirmError(f"The context lock is held by '{lock.user}' until {lock.expires_on:%Y-%m-%d %H:%M:%S}: "
                           "a confirm may still be running. Release the submission only when none is "
                           "(--ignore-context-lock).")
    names = list(result.parameters.get("new_file_map", {}).values())
    delivered = sorted(set(FileRecord.objects.filter(name__in=names).exclude(state=UPLOADED)
                           .values_list("name", flat=True))
                       | {name for name in names for folder in delivery.delivery_dirs() if (folder / name).exists()})
    if delivered:
        raise ConfirmError(f"{len(delivered)} file(s) of submission '{result.name}' were delivered or "
                           f"linked for delivery ({', '.join(delivered[:5])}): its confirm got past delivery, "
                           "so it cannot be decided again. Check the delivery and the edit context by hand.")
    _set_disposition(result, "")
    return (f"Submission '{result.name}' of {result.user} awaits a decision again: confirm or cancel it "
            "from its READY page.")


def _cancel(result: StoredResult) -> dict:
    """Remove every record and cache file the submission added."""
    names = list(result.parameters.get("new_file_map", {}).values())
    removed = submission.destroy_uploaded(names)
    return {"removed": removed, "generated": [], "delivered": []}


def _check_files(result: StoredResult) -> list[str]:
    names = sorted(result.parameters.get("new_file_map", {}).values())
    if not names:
        raise ConfirmError("No files submitted.")
    records = {r.name: r for r in FileRecord.objects.filter(name__in=names)}
    for name in names:
        record = records.get(name)
        if record is None or record.state != UPLOADED or not storage.cache_path(name).is_file():
            raise ConfirmError(f"File '{name}' of this submission is no longer waiting for confirmation.")
        if record.deliverer_user != result.user:
            raise ConfirmError(f"File '{name}' was not submitted by '{result.user}'.")
    return names


def final_context(pmap_mode: str, pmap: str) -> str:
    """The derive-from pmap at confirm time: the pointers are read again, under the context lock."""
    if pmap_mode == "pmap_edit":
        return contexts.pointer_context("edit")
    if pmap_mode in ("pmap_latest", "pmap_operational"):
        return contexts.pointer_context("latest")
    return pmap


def _confirm(result: StoredResult, user: str) -> dict:
    from locking import service as locks

    params = result.parameters
    names = _check_files(result)
    generated: list[str] = []
    made = None
    context_lock = locks.acquire(*CONTEXT_LOCK, user=user, max_age=CONTEXT_LOCK_MAX_AGE, timeout=CONTEXT_LOCK_WAIT)
    try:
        original = params.get("pmap", "")
        final = original
        if params.get("context_rmaps"):
            final = final_context(params.get("pmap_mode", ""), original)
            generated = generate_contexts(final, params["context_rmaps"], result)
        # The audit names the account that acted (§2.2): the forcer of a forced submission.
        made = delivery.deliver(names + generated, params.get("submission_kind", "batch submit"),
                                params.get("description", ""), user)
        pmaps = sorted(n for n in names + generated if n.endswith(".pmap"))
        if pmaps:
            contexts.set_pointer("edit", pmaps[-1], "set by system")
            set_context.record_meta_event(f"set edit context -> {pmaps[-1]} by system (confirm of {result.name})")
            cache.invalidate_on_commit()
    except BaseException:
        if made is not None:
            made.undo()
        submission.destroy_uploaded(generated)
        raise
    finally:
        locks.release_lock(context_lock)
    folder = storage.ingest_dir(result.user)
    storage.discard(*(folder / upload for upload in params.get("uploaded_basenames", [])))
    collision_list = [[n, r.derived_from, submission.collisions(n, r.derived_from)]
                      for n in generated for r in FileRecord.objects.filter(name=n)]
    return {"original_pmap": original, "final_pmap": final, "pmap": (pmaps[-1] if pmaps else final),
            "generated": generated,
            "delivered": sorted(names + generated), "catalog": made.catalog,
            "collision_list": [c for c in collision_list if c[2]]}


def generate_contexts(pmap: str, new_rmaps: list[str], result: StoredResult) -> list[str]:
    """New imaps and a new pmap naming `new_rmaps`, derived from `pmap`; cataloged as uploaded.

    Each is blacklisted at once when it contains a rejected mapping (§3.4), as one derived from a
    blacklisted context can.
    """
    from crds.refactoring import newcontext

    params = result.parameters
    updates = newcontext.get_update_map(pmap, new_rmaps)
    updates = {os.path.basename(imap): rmaps for imap, rmaps in updates.items()}
    name_map = {pmap: naming.new_mapping_name(pmap)}
    for imap in sorted(updates):
        name_map[imap] = naming.new_mapping_name(imap)
    made: list[str] = []
    try:
        for new in name_map.values():
            made.append(new)
            FileRecord.objects.create(name=new, state=UPLOADED, type="mapping", observatory=settings.CRDS_OBSERVATORY,
                                      deliverer_user=result.user, description=params.get("description", ""))
        newcontext.generate_new_contexts(pmap, updates, name_map)
        _write_not_applicable(updates, name_map)
        # Full paths: with bare names the crds library would write the headers into the working directory.
        newcontext.update_header_names({str(storage.cache_path(old)): str(storage.cache_path(new))
                                        for old, new in name_map.items()})
        for old, new in name_map.items():
            path = storage.cache_path(new)
            path.chmod(0o444)
            outcome = certify.certify_file(str(path), new, pmap, False, written_by_crds=True)
            if outcome.status == "Failed":
                raise ConfirmError(f"Generated context '{new}' failed certification: " + " ".join(outcome.lines[-3:]))
            instrument, filekind = naming.mapping_properties(new)
            FileRecord.objects.filter(name=new).update(
                derived_from=old, sha1sum=storage.sha1_file(path), size=path.stat().st_size, uploaded_as=new,
                instrument=instrument, filekind=filekind, blacklisted=bool(badfiles.blacklisted_by(new)))
    except BaseException:
        submission.destroy_uploaded(made)
        raise
    return sorted(made)


def _write_not_applicable(updates: dict[str, list[str]], name_map: dict[str, str]) -> None:
    """Write "N/A" for the `<instrument>_<type>_n/a` updates in the new imaps.

    crds' newcontext (14.0) installs such an update as `os.path.basename("N/A")`, i.e. "A",
    which certify then fails to load as a mapping; the value is set again with crds' own
    `set_item`, as newcontext meant to.
    """
    from crds.core import rmap

    for imap, entries in updates.items():
        types = [entry.split("_")[1] for entry in entries if entry.lower().endswith("_n/a")]
        if not types:
            continue
        path = str(storage.cache_path(name_map[imap]))
        mapping = rmap.load_mapping(path)
        for filekind in types:
            mapping.set_item(filekind, "N/A")
        mapping.write(path)
