"""The submission kinds besides Batch Submit (server-behaviour.md §5.6, §5.7).

Each kind is a set of steps run by `submission.run_submission`, so it shares
the batch submission's cleanup on failure, jpoll progress, e-mails and the
READY result that `interactive.confirm` confirms, cancels or forces:

* submit mappings: certified mappings under official names, optionally with
  imaps and a pmap generated from the submitted rmaps at confirm;
* submit references: certified references with no rules change;
* delete / add references: new rmaps of the derive-from context without, or
  with, references already in the catalog;
* create contexts (superuser): new imaps and pmap from chosen rmaps at once.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from crds.core import config as crds_config
from django.conf import settings

from interactive import catalog, certify, confirm, contexts, delivery, naming, storage
from interactive.models import USABLE_STATES, FileRecord, StoredResult
from interactive.submission import (
    BatchRequest,
    SubmissionError,
    _Added,
    _progress,
    _ready_result,
    _set_mapping_names,
    add_references,
    bad_files,
    catalog_new,
    certify_mappings,
    certify_uploads,
    check_duplicates,
    check_lock,
    insert_references,
    old_rmap,
    record_sums,
    refactor_rmap,
    reference_uploads,
    review,
    run_submission,
    start,
    start_hashing,
    write_rmap,
)

# Submission kinds, also the audit action of their deliveries (§2.2, §5.4).
SUBMIT_FILE, DELETE_REFERENCES, ADD_REFERENCES = "submit file", "delete references", "add references"
NEW_CONTEXT = "new context"
NAMES_SPLIT = re.compile(r"[\s,]+")


def split_names(text: str) -> list[str]:
    """File names typed in a form, separated by whitespace or commas, in order and without repeats."""
    return list(dict.fromkeys(name for name in NAMES_SPLIT.split(text or "") if name))


# ---------------------------------------------------------------- submit mappings


def _load(path: Path, shown: str):
    from crds.core import rmap

    try:
        return rmap.load_mapping(str(path))
    except Exception as exc:
        raise SubmissionError(f"Mapping '{shown}' cannot be loaded: {exc}") from None


def _children(upload: str, mapping) -> list[str]:
    """The files a mapping names directly: references of an rmap, rmaps of an imap, imaps of a pmap
    (as written: a context's children are not loaded)."""
    if upload.endswith(".rmap"):
        return sorted(mapping.reference_names())
    return sorted({str(child) for child in mapping.selector.values()})


CHILD_EXTENSIONS = {".pmap": ".imap", ".imap": ".rmap"}


def uploads_named(paths: dict[str, Path]) -> dict[str, list[str]]:
    """{context upload: the mappings of this same submission it names}: an imap naming uploaded
    rmaps, a pmap naming uploaded imaps.  Uploads crds cannot load are left to certify."""
    from crds.core import rmap

    named = {}
    for name, path in paths.items():
        child_extension = CHILD_EXTENSIONS.get(Path(name).suffix)
        if child_extension is None:
            continue
        try:
            mapping = rmap.load_mapping(str(path), ignore_checksum=True)
        except Exception:
            continue
        if children := [c for c in _children(name, mapping) if c in paths and c.endswith(child_extension)]:
            named[name] = children
    return named


def certify_mapping_uploads(request: BatchRequest, context: str, paths: dict[str, Path],
                            named: dict[str, list[str]]) -> list[dict]:
    """Certify uploaded mappings; one that names other uploads gets crds' grammar pass now and the
    rest of certify once renamed (`certify_renamed`), since crds can only find cached files."""
    results = []
    for i, (name, path) in enumerate(paths.items(), 1):
        _progress(request, f"Certifying '{name}' [{i} / {len(paths)} files]")
        if name in named:
            results.append(vars(certify.check_mapping_text(str(path), name)))
        else:
            results.append(vars(certify.certify_file(str(path), name, context, request.compare_old_reference)))
    return results


def install_official_children(upload: str, target: Path, officials: dict[str, str]) -> None:
    """In the official copy `target` of context `upload`, replace each submitted child by its
    official name, as crds installs a new mapping in a context (`newcontext.insert_mapping`)."""
    from crds.core import rmap
    from crds.refactoring import newcontext

    renamed = {child: official for child, official in officials.items() if child != official}
    if not renamed:
        return
    for official in sorted(renamed.values()):
        newcontext.insert_mapping(str(target), official)
    selector = rmap.load_mapping(str(target), ignore_checksum=True).selector
    for key, value in sorted(selector.items()):
        if value in renamed:
            raise SubmissionError(f"In '{upload}': '{value}' is named for '{key}', which is not its "
                                  f"{'type' if upload.endswith('.imap') else 'instrument'}.")


def certify_renamed(request: BatchRequest, context: str, results: list[dict], named: dict[str, list[str]],
                    new_file_map: dict[str, str]) -> None:
    """Certify, in `results`, the official copies of the uploads that name other uploads."""
    for result in results:
        if result["name"] not in named:
            continue
        official = new_file_map[result["name"]]
        _progress(request, f"Certifying '{official}' (submitted as '{result['name']}').")
        outcome = certify.certify_file(str(storage.cache_path(official)), official, context, False,
                                       written_by_crds=True)
        result["lines"] += [f"INFO - Certified as '{official}', naming the files of this submission "
                            "by their official names."] + outcome.lines
        if outcome.status == "Failed" or result["status"] == "OK":
            result["status"] = outcome.status


def check_children(upload: str, mapping, submitted: list[str] = ()) -> list[str]:
    """§5.7: every file named must be cataloged and usable, none blacklisted; warnings for rejected ones.
    The `submitted` mappings of the same submission are checked as uploads instead."""
    names = [n for n in _children(upload, mapping)
             if not n.upper().startswith(("N/A", "OMIT")) and n not in submitted]
    records = {r.name: r for r in FileRecord.objects.filter(name__in=names)}
    warnings = []
    for name in names:
        record = records.get(name)
        if record is None or record.state not in USABLE_STATES:
            raise SubmissionError(f"In '{upload}': file '{name}' is not known to CRDS.")
        if record.blacklisted:
            raise SubmissionError(f"In '{upload}': file '{name}' is blacklisted; mappings using it are refused.")
        if record.rejected:
            warnings.append(f"WARNING - In '{upload}': file '{name}' is marked bad.")
    return warnings


def check_derivation(upload: str, mapping) -> str:
    """The cataloged mapping `upload` derives from, "" when generated; refuses unknown ones."""
    derived_from = str(mapping.header.get("derived_from", ""))
    if not derived_from or " " in derived_from or not storage.is_mapping(derived_from):
        return ""
    if not FileRecord.objects.filter(name=derived_from, type="mapping").exists():
        raise SubmissionError(f"'{upload}' is derived from '{derived_from}', which is not known to CRDS.")
    return derived_from


def mapping_kind(upload: str, mapping) -> tuple[str, str, str]:
    """(instrument, filekind, extension) of an uploaded mapping, from its header."""
    extension = Path(upload).suffix
    instrument = "" if extension == ".pmap" else str(mapping.header.get("instrument", "")).lower()
    filekind = str(mapping.header.get("filekind", "")).lower() if extension == ".rmap" else ""
    if (extension != ".pmap" and not instrument) or (extension == ".rmap" and not filekind):
        raise SubmissionError(f"The header of '{upload}' names no instrument or type.")
    return instrument, filekind, extension


def official_mapping_name(upload: str, instrument: str, filekind: str, extension: str, auto_rename: bool) -> str:
    if auto_rename:
        return naming.new_crds_name(instrument, filekind, extension)
    if not crds_config.is_valid_mapping_name(upload) or "_" not in upload or re.search(r"_\d{4}\.", upload) is None:
        raise SubmissionError(f"Without auto-rename, '{upload}' must be a valid new-style mapping name "
                              "such as hst_acs_darkfile_0400.rmap.")
    if naming.is_taken(upload):
        raise SubmissionError(f"File named '{upload}' already exists in CRDS.")
    return upload


def _mapping_steps(request: BatchRequest, added: _Added, generate_contexts: bool) -> StoredResult:
    title = "Submit Mapping"
    context, uploads = start(request, title)
    folder = storage.ingest_dir(request.user)
    for name in uploads:
        if not storage.is_mapping(name):
            raise SubmissionError(f"Only mappings (.rmap, .imap, .pmap) can be submitted here: '{name}'. "
                                  "Submit references with /submit/reference/ or /batch_submit_references/.")
    if generate_contexts and not all(name.endswith(".rmap") for name in uploads):
        raise SubmissionError("Contexts can be generated only when every submitted file is an .rmap.")
    paths = {name: folder / name for name in uploads}
    named = uploads_named(paths)
    results = certify_mapping_uploads(request, context, paths, named)
    if failed := bad_files(request, context, results, uploads, title, submission_kind=SUBMIT_FILE):
        return failed

    mappings = {name: _load(path, name) for name, path in paths.items()}
    kinds = {name: mapping_kind(name, mapping) for name, mapping in mappings.items()}
    check_lock(request, {name: (instrument, filekind) for name, (instrument, filekind, _) in kinds.items()
                         if instrument})
    warnings = []
    derivations = {}
    for name, mapping in mappings.items():
        _progress(request, f"Checking the files named by '{name}'.")
        warnings += check_children(name, mapping, named.get(name, []))
        derivations[name] = check_derivation(name, mapping)
    for result in results:
        result["lines"] += [w for w in warnings if f"'{result['name']}'" in w]
    _progress(request, "Checking for duplicate files.")
    sums = check_duplicates(paths)

    new_file_map: dict[str, str] = {}
    order = sorted(uploads, key=lambda n: (".rmap", ".imap", ".pmap").index(Path(n).suffix))
    for name in order:
        instrument, filekind, extension = kinds[name]
        official = official_mapping_name(name, instrument, filekind, extension, request.auto_rename)
        _progress(request, f"Renaming '{name}' --> '{official}'" if official != name else f"Adding '{name}'")
        catalog_new(official, request, type="mapping", instrument=instrument, filekind=filekind,
                    derived_from=derivations[name] or str(mappings[name].header.get("derived_from", ""))[:128],
                    uploaded_as=name, uploaded_sha1sum=sums[name])
        added.names.append(official)
        target = storage.cache_path(official)
        shutil.copyfile(paths[name], target)
        install_official_children(name, target, {child: new_file_map[child] for child in named.get(name, [])})
        # Keep the header consistent with the official name; derived_from stays as submitted.
        _set_mapping_names(target, official, str(mappings[name].header.get("derived_from", "")))
        target.chmod(0o444)
        FileRecord.objects.filter(name=official).update(sha1sum=storage.sha1_file(target), size=target.stat().st_size)
        new_file_map[name] = official

    certify_renamed(request, context, results, named, new_file_map)
    # The official copies are the uploads as crds rewrote them, whose text certify has parsed.
    official_results = certify_mappings(request, context, [new_file_map[n] for n in uploads if n not in named],
                                        written_by_crds=True)
    if any(r["status"] == "Failed" for r in results + official_results):
        added.remove()
        return bad_files(request, context, results + official_results, uploads, title,
                         submission_kind=SUBMIT_FILE)
    collision_list, diff_results = review(request, {derivations[n]: o for n, o in new_file_map.items()
                                                    if derivations[n]})
    return _ready_result(request, context, {
        "submission_kind": SUBMIT_FILE, "more_submits": "/submit/mapping/", "new_file_map": new_file_map,
        "uploaded_basenames": uploads, "certify_results": results, "collision_list": collision_list,
        "diff_results": diff_results,
        "context_rmaps": sorted(new_file_map.values()) if generate_contexts else []})


def submit_mappings(request: BatchRequest, generate_contexts: bool = False) -> StoredResult:
    """Submit the mappings of the user's ingest area; READY (or BAD FILES) result."""
    return run_submission(request, "Submit Mapping", partial(_mapping_steps, generate_contexts=generate_contexts),
                          task="Submit MAPPINGs")


# ---------------------------------------------------------------- submit references


def _reference_steps(request: BatchRequest, added: _Added) -> StoredResult:
    title = "Submit Reference"
    context, uploads = start(request, title)
    paths, kinds = reference_uploads(request, uploads, "submitted as references")
    with storage.Hashes() as hashes:
        start_hashing(paths, hashes)
        results = certify_uploads(request, context, paths)
        if failed := bad_files(request, context, results, uploads, title, submission_kind=SUBMIT_FILE):
            return failed
        new_file_map = add_references(request, added, paths, kinds, hashes)
        record_sums(hashes)
    return _ready_result(request, context, {
        "submission_kind": SUBMIT_FILE, "more_submits": "/submit/reference/", "new_file_map": new_file_map,
        "uploaded_basenames": uploads, "certify_results": results, "reference_map": new_file_map})


def submit_references(request: BatchRequest) -> StoredResult:
    """Submit the references of the user's ingest area with no rules change; READY result."""
    return run_submission(request, "Submit Reference", _reference_steps, task="Submit REFERENCEs")


# ---------------------------------------------------------------- delete / add references


def cataloged_references(names: list[str]) -> dict[str, FileRecord]:
    if not names:
        raise SubmissionError("No reference files were specified.")
    records = {}
    for name in names:
        try:
            storage.check_filename(name)
        except Exception:
            raise SubmissionError(f"Invalid file name '{name[:128]}'.") from None
        record = FileRecord.objects.filter(name=name).first()
        if record is None or record.type != "reference" or record.state not in USABLE_STATES:
            raise SubmissionError(f"File '{name}' is not a reference known to CRDS.")
        records[name] = record
    return records


def delete_from_rmap(old: str, new_path: Path, names: list[str]) -> None:
    """Write rmap `old` without the references `names` to `new_path` (crds refactoring)."""
    from crds.refactoring import refactor

    refactor_rmap(old, new_path, "Deleting", "from", lambda: refactor.rmap_delete_references(
        str(storage.cache_path(old)), str(new_path), names))


def _rules_steps(request: BatchRequest, added: _Added, names: list[str], deleting: bool) -> StoredResult:
    kind, title = (DELETE_REFERENCES, "Delete Existing") if deleting else (ADD_REFERENCES, "Add Existing")
    context, _ = start(request, title, {"Deleted files" if deleting else "Added files": names})
    records = cataloged_references(names)
    in_context = set(contexts.load_mapping(context).reference_names())
    for name, record in records.items():
        if deleting and name not in in_context:
            raise SubmissionError(f"File '{name}' is not in context '{context}'.")
        if not deleting and name in in_context:
            raise SubmissionError(f"File '{name}' is already in context '{context}'.")
        if not deleting and (record.rejected or record.blacklisted):
            raise SubmissionError(f"File '{name}' is marked bad and cannot be added.")
    kinds = {name: (r.instrument.lower(), r.filekind.lower()) for name, r in records.items()}
    check_lock(request, kinds)
    groups: dict[tuple[str, str], list[str]] = {}
    for name, group in kinds.items():
        groups.setdefault(group, []).append(name)

    def edit(old: str, new_path: Path, refs: list[str]) -> None:
        if deleting:
            delete_from_rmap(old, new_path, refs)
        else:
            insert_references(old, new_path, [storage.cache_path(r) for r in refs])

    olds = {}
    _progress(request, "Trying the rmap changes.")
    with tempfile.TemporaryDirectory(prefix="trial-", dir=settings.CRDS_SERVER_FILES) as tmp:
        for group, refs in sorted(groups.items()):
            olds[group] = old = old_rmap(context, *group)
            edit(old, Path(tmp) / old, refs)
    rmap_map = {olds[group]: write_rmap(request, added, olds[group], partial(edit, refs=refs))
                for group, refs in sorted(groups.items())}
    results = certify_mappings(request, context, list(rmap_map.values()), written_by_crds=True)
    if any(r["status"] == "Failed" for r in results):
        added.remove()
        return bad_files(request, context, results, [], title, submission_kind=kind)
    collision_list, diff_results = review(request, rmap_map)
    return _ready_result(request, context, {
        "submission_kind": kind, "more_submits": "/delete/reference/" if deleting else "/add_existing/reference/",
        "new_file_map": rmap_map, "rmap_map": rmap_map, "context_rmaps": sorted(rmap_map.values()),
        "certify_results": results, "collision_list": collision_list, "diff_results": diff_results,
        ("deleted_files" if deleting else "added_files"): sorted(records)})


def delete_references(request: BatchRequest, names: list[str]) -> StoredResult:
    """New rmaps of the derive-from context without the references `names`; READY result."""
    return run_submission(request, "Delete Existing", partial(_rules_steps, names=names, deleting=True),
                          task="Delete References")


def add_existing_references(request: BatchRequest, names: list[str]) -> StoredResult:
    """New rmaps of the derive-from context with the cataloged references `names`; READY result."""
    return run_submission(request, "Add Existing", partial(_rules_steps, names=names, deleting=False),
                          task="Add Existing References")


# ---------------------------------------------------------------- create contexts


NOT_APPLICABLE = re.compile(r"^(?P<instrument>[A-Za-z0-9]+)_(?P<filekind>[A-Za-z0-9\-]+)_n/a\Z", re.IGNORECASE)


def not_applicable(pmap: str, entry: str) -> tuple[str, tuple[str, str]]:
    """(the crds form `<instrument>_<type>_n/a`, (instrument, type)) of a request to set a type of
    `pmap` to N/A; refuses unknown instruments and types, and types already N/A."""
    from crds.core import reftypes

    match = NOT_APPLICABLE.match(entry)
    if match is None:
        raise SubmissionError(f"Invalid entry '{entry[:128]}': use <instrument>_<type>_n/a, e.g. acs_biasfile_n/a.")
    instrument, filekind = match["instrument"].lower(), match["filekind"].lower()
    loaded = contexts.load_mapping(pmap)
    instruments = {key.lower(): value for key, value in loaded.selector.items()}
    if instrument not in instruments:
        raise SubmissionError(f"Unknown instrument '{instrument}' in '{entry}': use one of "
                              f"{', '.join(sorted(instruments))}.")
    if not storage.is_mapping(str(instruments[instrument])):
        raise SubmissionError(f"Context '{pmap}' has no rules for instrument '{instrument}'.")
    imap = loaded.get_imap(instrument)
    types = {key.lower(): str(value) for key, value in imap.selector.items()}
    known = set(types) | {kind.lower() for kind in reftypes.get_types_object(
        settings.CRDS_OBSERVATORY).get_filekinds(instrument)}
    if filekind not in known:
        raise SubmissionError(f"Unknown type '{filekind}' for instrument '{instrument}' in '{entry}': use one of "
                              f"{', '.join(sorted(known))}.")
    if types.get(filekind, "").upper() == "N/A":
        raise SubmissionError(f"Type '{filekind}' of '{instrument}' is already N/A in '{imap.basename}'.")
    return f"{instrument}_{filekind}_n/a", (instrument, filekind)


def _usable_rmap_kind(name: str) -> tuple[str, str]:
    """(instrument, type) of a cataloged, distributable rmap that is not marked bad."""
    record = catalog.distributable().filter(name=name).first()
    if not name.endswith(".rmap") or record is None:
        raise SubmissionError(f"File '{name}' is not an rmap known to CRDS.")
    if record.blacklisted or record.rejected:
        raise SubmissionError(f"Rmap '{name}' is marked bad.")
    return naming.mapping_properties(name)


def create_contexts(user: str, pmap: str, rmaps: list[str], description: str,
                    progress: Callable[[str], None] = lambda text: None) -> StoredResult:
    """§5.6 (superuser): imaps and a pmap naming `rmaps`, derived from `pmap`, generated and delivered at
    once under the context lock, with the edit pointer moved; returns the stored confirmation page.

    An entry `<instrument>_<type>_n/a` of `rmaps` sets that type to N/A (crds' newcontext does it).
    """
    import uuid

    from locking import service as locks

    from interactive import cache, set_context, submission

    request = BatchRequest(user=user, description=description)
    submission._check_request(request)
    for name in [pmap, *(n for n in rmaps if not n.lower().endswith("_n/a"))]:
        try:
            storage.check_filename(name)
        except Exception:
            raise SubmissionError(f"Invalid file name '{name[:128]}'.") from None
    if not pmap.endswith(".pmap") or not FileRecord.objects.filter(name=pmap, state__in=USABLE_STATES).exists():
        raise SubmissionError(f"Context '{pmap}' is not a pipeline context known to CRDS.")
    if not rmaps:
        raise SubmissionError("No rmaps were specified.")
    updates: list[str] = []
    updated: dict[tuple[str, str], str] = {}
    for name in rmaps:
        if name.lower().endswith("_n/a"):
            update, kind = not_applicable(pmap, name)
        else:
            update, kind = name, _usable_rmap_kind(name)
        if kind in updated:
            raise SubmissionError(f"'{name}' and '{updated[kind]}' are both for {' '.join(kind)}: choose one.")
        updated[kind] = name
        updates.append(update)
    for name in rmaps:
        if name.lower().endswith("_n/a"):
            continue
        progress(f"Certifying '{name}'.")
        outcome = certify.certify_file(str(storage.cache_path(name)), name, pmap, False)
        if outcome.status == "Failed":
            raise SubmissionError(f"Rmap '{name}' fails certification: " + " ".join(outcome.lines[-3:]))
    holder = StoredResult(user=user, parameters={"description": description})
    context_lock = locks.acquire(*confirm.CONTEXT_LOCK, user=user, max_age=confirm.CONTEXT_LOCK_MAX_AGE,
                                 timeout=confirm.CONTEXT_LOCK_WAIT)
    generated: list[str] = []
    made = None
    try:
        progress(f"Generating contexts from '{pmap}'.")
        try:
            generated = confirm.generate_contexts(pmap, updates, holder)
        except confirm.ConfirmError as exc:
            raise SubmissionError(str(exc)) from None
        except Exception as exc:
            raise SubmissionError(f"Generating contexts from '{pmap}' failed: {exc}") from None
        progress("Delivering " + ", ".join(generated))
        made = delivery.deliver(generated, NEW_CONTEXT, description, user)
        new_pmap = [n for n in generated if n.endswith(".pmap")][-1]
        contexts.set_pointer("edit", new_pmap, "set by system")
        set_context.record_meta_event(f"set edit context -> {new_pmap} by system (create contexts by {user})")
        cache.invalidate_on_commit()
    except BaseException:
        if made is not None:
            made.undo()
        submission.destroy_uploaded(generated)
        raise
    finally:
        locks.release_lock(context_lock)
    return StoredResult.objects.create(
        name=str(uuid.uuid4()), page_template=confirm.CONFIRMED_TEMPLATE, user=user, requires_authentication=True,
        parameters={"disposition": "confirmed", "submission_kind": NEW_CONTEXT, "description": description,
                    "decided_by": user, "original_pmap": pmap, "final_pmap": pmap, "pmap": new_pmap,
                    "generated": generated, "installed": updates, "delivered": generated, "catalog": made.catalog,
                    "new_file_map": {}, "uploaded_basenames": [], "collision_list": []})
