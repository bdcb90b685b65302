"""Batch Submit References: from the ingest area to a READY result awaiting confirmation (§5.3, §5.4).

Steps: certify every upload against the derive-from context, try the rmap
insertion on temporary copies before any official name is spent, then name,
link and catalog the references as `uploaded`, refuse duplicates (by sha1sum,
pending uploads included), write and certify the new rmaps, and store the
READY result.  Any failure removes every record and cache file the submission
added; the uploads stay in the ingest area until a confirm.  Each upload is
read once for its sha1sum, in a worker thread alongside the other steps.

Counters are not rolled back with a failure: spent numbers are never reused.
"""

from __future__ import annotations

import datetime
import difflib
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crds.core import config as crds_config
from crds.core import utils as crds_utils
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from jpoll import service as jpoll

from interactive import cache, certify, contexts, mail, naming, storage
from interactive.headers import reference_metadata
from interactive.models import UPLOADED, FileRecord, StoredResult
from interactive.web import strip_paths

log = logging.getLogger(__name__)

READY_TEMPLATE = "interactive/submission_ready.html"
DESCRIPTION_RE = re.compile(r"^[A-Za-z0-9._\s/,=\-+]{1,2000}\Z")
CREATOR_RE = re.compile(r"^[A-Za-z_0-9.@, \-]{0,128}\Z")
CHANGE_LEVELS = ("SEVERE", "MODERATE", "TRIVIAL")
BATCH_SUBMIT = "batch submit"
# A submission runs for minutes; its records older than this with no READY result were abandoned.
ABANDONED_AFTER = datetime.timedelta(hours=6)
# A renamed reference at least this large is hashed while crds writes it; a smaller one is
# read back afterwards, which costs less than following its writes.
FOLLOW_WRITES_FROM = 64 << 20


class SubmissionError(Exception):
    """A submission a person can fix; the message says how.  Nothing of it is left behind.

    The message reaches the form page, jpoll and the FAILED mail, so server paths in the
    crds texts it quotes are cut to file names here.
    """

    def __init__(self, message: str):
        super().__init__(strip_paths(message))


@dataclass
class BatchRequest:
    user: str
    description: str
    pmap_mode: str = "pmap_edit"
    pmap_name: str = ""
    creator: str = ""
    change_level: str = "SEVERE"
    auto_rename: bool = True
    compare_old_reference: bool = True
    lock_id: str = ""              # the user's instrument lock id when the request began ("" = unlocked)
    locked_instrument: str = ""
    instrument: str = ""           # the files' instrument: required when given (ReDCaT form), else found by check_lock
    channel: str = ""              # jpoll channel key
    result_url: Callable[[str], str] = field(default=lambda result_id: f"/display_result/{result_id}")
    notify: tuple[str, ...] = ()   # further e-mail recipients (the ReDCaT form's other_email)


class _Added:
    """Records and cache files one submission created, for cleanup on failure."""

    def __init__(self):
        self.names: list[str] = []

    def remove(self) -> None:
        for name in reversed(self.names):
            FileRecord.objects.filter(name=name, state=UPLOADED).delete()
            if not FileRecord.objects.filter(name=name).exists():
                remove_cache_file(name)
        self.names = []
        cache.invalidate_on_commit()


def remove_cache_file(name: str) -> None:
    path = storage.cache_path(name)
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _progress(request: BatchRequest, text: str) -> None:
    if request.channel:
        jpoll.write(request.channel, text)


def _check_request(request: BatchRequest) -> None:
    if not request.description or not DESCRIPTION_RE.match(request.description):
        raise SubmissionError("A description is required: up to 2000 letters, digits, spaces and . _ / , = - +")
    if not CREATOR_RE.match(request.creator or ""):
        raise SubmissionError("Invalid creator: use up to 128 letters, digits, spaces and _ . @ , -")
    if request.change_level not in CHANGE_LEVELS:
        raise SubmissionError(f"Invalid change level: use one of {', '.join(CHANGE_LEVELS)}.")


def file_properties(path: Path) -> tuple[str, str]:
    """(instrument, filekind) of an uploaded reference, from its name or header."""
    try:
        instrument, filekind = crds_utils.get_file_properties(settings.CRDS_OBSERVATORY, str(path))
    except Exception as exc:
        raise SubmissionError(f"Cannot determine the instrument and type of '{path.name}': {exc}") from None
    if not instrument or not filekind:
        raise SubmissionError(f"Cannot determine the instrument and type of '{path.name}'.")
    return instrument.lower(), filekind.lower()


def check_lock(request: BatchRequest, kinds: dict[str, tuple[str, str]]) -> None:
    """The lock taken at the start still holds, and every file is for the locked instrument (§5.3.2).

    Records the files' instrument as `request.instrument`: cancel and force of the result need a lock
    on it also when an unlocked superuser submitted.
    """
    from locking import service as locks

    instruments = sorted({instrument for instrument, _ in kinds.values()})
    if len(instruments) > 1:
        raise SubmissionError(f"All files must be for one instrument; these are for {', '.join(instruments)}.")
    found = instruments[0] if instruments else ""
    if request.lock_id:
        lock = locks.instrument_lock(request.user)
        if lock is None or lock.lock_id != request.lock_id:
            raise SubmissionError("BROKEN LOCK: your instrument lock expired or was taken over; log in again.")
        if found and found != lock.name:
            raise SubmissionError(f"Instrument Mismatch: Logged in for '{lock.name}'. Submitted files for '{found}'.")
    if found and request.instrument and found != request.instrument:
        raise SubmissionError(f"Instrument Mismatch: the form names instrument '{request.instrument}'. "
                              f"Submitted files for '{found}'.")
    request.instrument = found or request.instrument


def check_duplicates(paths: dict[str, Path], sums: dict[str, str] | None = None) -> dict[str, str]:
    """{upload: sha1sum} (`sums` if already computed); refuses files identical to cataloged ones,
    or to the uploads they were renamed from, pending uploads included (§16.16)."""
    if sums is None:
        sums = {name: storage.sha1_file(path) for name, path in paths.items()}
    seen: dict[str, str] = {}
    for name, digest in sums.items():
        if digest in seen:
            raise SubmissionError(f"'{name}' is identical to '{seen[digest]}' in this submission.")
        seen[digest] = name
    digests = list(sums.values())
    existing: dict[str, str] = {}
    for record in FileRecord.objects.filter(Q(sha1sum__in=digests) | Q(uploaded_sha1sum__in=digests)):
        for digest in {record.sha1sum, record.uploaded_sha1sum} & set(digests):
            existing.setdefault(digest, record.name)
    for name, digest in sums.items():
        if digest in existing:
            raise SubmissionError(f"'{name}' is identical to existing files: {existing[digest]}")
    return sums


class _CrdsErrors:
    """Collects CRDS ERROR lines logged by this thread while a crds function runs."""

    def __enter__(self):
        self.capture = certify._ThreadCapture()
        certify._crds_logger().addHandler(self.capture)
        return self

    def __exit__(self, *exc):
        certify._crds_logger().removeHandler(self.capture)
        return False

    @property
    def errors(self) -> list[str]:
        return [r.getMessage() for r in self.capture.records if r.levelno >= logging.ERROR]


def old_rmap(context: str, instrument: str, filekind: str) -> str:
    """The rmap of (instrument, filekind) in the derive-from context."""
    pmap = contexts.load_mapping(context)
    try:
        return pmap.get_imap(instrument).get_rmap(filekind).basename
    except Exception:
        raise SubmissionError(f"Context '{context}' has no rules for {instrument} {filekind}; "
                              "such files cannot be batch submitted.") from None


def refactor_rmap(old: str, new_path: Path, doing: str, preposition: str, edit: Callable[[], None]) -> None:
    """Run a crds refactoring `edit` of rmap `old` that writes `new_path`; any CRDS error, or no new
    rmap, aborts with "<doing> references <preposition> '<old>' failed: ..."."""
    with _CrdsErrors() as captured:
        try:
            edit()
        except Exception as exc:
            raise SubmissionError(f"{doing} references {preposition} '{old}' failed: {exc}") from None
    if captured.errors:
        raise SubmissionError(f"{doing} references {preposition} '{old}' failed: "
                              + " ".join(captured.errors)[:2000])
    if not new_path.exists():
        raise SubmissionError(f"{doing} the references {preposition} '{old}' changes nothing.")


def insert_references(old: str, new_path: Path, references: list[Path]) -> None:
    """Insert `references` into a copy of rmap `old` written at `new_path`; any CRDS error aborts."""
    from crds.refactoring import refactor

    refactor_rmap(old, new_path, "Inserting", "into", lambda: refactor.rmap_insert_references(
        str(storage.cache_path(old)), str(new_path), [str(p) for p in references],
        observatory=settings.CRDS_OBSERVATORY))


def trial_insertion(context: str, groups: dict[tuple[str, str], list[Path]],
                    folder: Path) -> dict[tuple[str, str], str]:
    """Try every rmap update on copies in `folder` (named as the old rmaps) before an official name
    is spent; {group: old rmap}."""
    olds = {}
    for (instrument, filekind), paths in sorted(groups.items()):
        olds[(instrument, filekind)] = old = old_rmap(context, instrument, filekind)
        insert_references(old, folder / old, paths)
    return olds


def official_reference_name(upload: str, path: Path, instrument: str, filekind: str, auto_rename: bool) -> str:
    if not auto_rename:
        if naming.is_taken(upload):
            raise SubmissionError(f"File named '{upload}' already exists in CRDS.")
        return upload
    extension = Path(upload).suffix
    if settings.CRDS_OBSERVATORY == "hst":
        return naming.new_hst_reference_name(instrument, filekind, extension)
    return naming.new_crds_name(instrument, filekind, extension)


def owned_by_server(path: Path) -> bool:
    """Whether the server account owns `path`: only such a file may be hard-linked into the cache.

    A submitter's direct copy (§5.2) stays theirs through a link, which the server may not
    make read-only and the submitter could still change.
    """
    return path.stat().st_uid == os.getuid()


def hard_link(source: Path, target: Path) -> bool:
    """Link `target` to `source`; False when they are on different filesystems or linking is refused."""
    try:
        os.link(source, target)
    except OSError:
        return False
    return True


def place_reference(upload_path: Path, name: str, renamed_hst: bool) -> None:
    """Put a reference at its cache path, read-only (§5.3.6): rewritten by uniqname (HST), else
    hard-linked when the server owns the upload, else copied.

    A symbolic link is refused: swapped in after the ingest area was listed, it could name
    any file the server can read.
    """
    if upload_path.is_symlink() or not upload_path.is_file():
        raise SubmissionError(f"'{upload_path.name}' is not a regular file in your ingest area.")
    target = storage.cache_path(name)
    if renamed_hst:
        from crds.misc import uniqname

        script = uniqname.UniqnameScript("crds.misc.uniqname --standard --fits-errors" +
                                         (" --add-checksum" if uniqname.has_checksum(str(upload_path)) else ""))
        script.args.add_keywords = script.args.verify_file = True
        try:
            script.rewrite(str(upload_path), str(target))
        except Exception as exc:
            text = str(exc)
            if "truncation" in text:
                raise SubmissionError(f"'{upload_path.name}': file may be truncated.") from None
            raise SubmissionError(f"'{upload_path.name}' cannot be renamed: {text}") from None
    elif not (owned_by_server(upload_path) and hard_link(upload_path, target)):
        shutil.copyfile(upload_path, target)
    target.chmod(0o444)


def catalog_new(name: str, request: BatchRequest, **fields) -> FileRecord:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=request.user).first()
    return FileRecord.objects.create(
        name=name, state=UPLOADED, observatory=settings.CRDS_OBSERVATORY, description=request.description,
        deliverer_user=request.user, deliverer_email=(user.email if user else ""),
        creator_name=request.creator or "", change_level=request.change_level, **fields)


def collisions(new_mapping: str, derived_from: str) -> list[str]:
    """Other records derived from the same parent: parallel edits of one rmap."""
    if derived_from in ("", "none") or "generated" in derived_from:
        return []
    return sorted(FileRecord.objects.filter(derived_from=derived_from).exclude(name=new_mapping)
                  .values_list("name", flat=True))


def differences(old: str, new: str) -> tuple[list[str], str]:
    """(logical differences, whitespace-insensitive unified text diff) of two mappings."""
    from crds import diff as crds_diff

    try:
        logical = [" ".join(str(part) for part in crds_diff.remove_diff_paths(d)) for d in crds_diff.mapping_diffs(
            old, new, include_header_diffs=False)]
    except Exception as exc:
        logical = [f"cannot difference: {exc}"]
    old_lines = [" ".join(line.split()) for line in storage.cache_path(old).read_text().splitlines()]
    new_lines = [" ".join(line.split()) for line in storage.cache_path(new).read_text().splitlines()]
    text = "\n".join(difflib.unified_diff(old_lines, new_lines, old, new, lineterm=""))
    return logical, text


def _ready_result(request: BatchRequest, context: str, parameters: dict) -> StoredResult:
    # "submitter", not "user": page parameters must not hide the template's logged-in `user`.
    parameters = {
        "pmap": context, "pmap_mode": request.pmap_mode, "submission_kind": BATCH_SUBMIT,
        "description": request.description, "submitter": request.user, "more_submits": "/batch_submit_references/",
        "requires_locking": bool(request.lock_id), "should_still_be_locked": request.lock_id,
        "locked_instrument": request.locked_instrument, "instrument": request.instrument, "disposition": "",
        "new_file_map": {},
        "uploaded_basenames": [], "context_rmaps": [], "certify_results": [], "collision_list": [],
        "diff_results": [], **parameters}
    return StoredResult.objects.create(name=str(uuid.uuid4()), page_template=READY_TEMPLATE, user=request.user,
                                       parameters=parameters, requires_authentication=True)


def _send(subject: str, request: BatchRequest, body: str, title: str = "Batch Submit") -> None:
    mail.send(f"{subject} {title} by {mail.person(request.user)}", body, request.user, extra=request.notify)


def batch_submit(request: BatchRequest) -> StoredResult:
    """Run a Batch Submit References; returns the stored READY (or BAD FILES) result."""
    return run_submission(request, "Batch Submit", _batch_steps)


def run_submission(request: BatchRequest, title: str,
                   steps: Callable[[BatchRequest, _Added], StoredResult], task: str = "") -> StoredResult:
    """Run the `steps` of a submission kind: on any failure remove what they added, report FAILED
    through jpoll and e-mail, and re-raise; else e-mail READY (or BAD FILES, sent by the steps).

    `title` names the kind in the READY mail, `task` (default `title`) in the FAILED one (§10).
    """
    task = task or title
    added = _Added()
    try:
        result = steps(request, added)
        if result.parameters.get("disposition") == "bad files":
            return result
    except BaseException as exc:
        added.remove()
        if request.channel and not isinstance(exc, jpoll.Aborted):
            jpoll.fail(request.channel, str(exc) if isinstance(exc, SubmissionError) else "internal server error")
        if not isinstance(exc, SubmissionError):
            log.exception("%s by %s failed", task, request.user)
        _send("FAILED", request, f"Task: {task}\nUser: {request.user}\nDescription: {request.description}\n"
                                 f"Error: {strip_paths(str(exc))}\n", task)
        raise
    url = request.result_url(result.name)
    _send("READY", request, f"Review/Confirm at: {url.replace('/display_result/', '/authenticated_result/')}\n"
                            f"Description: {request.description}\n" +
          "".join(f"{a} --> {b}\n" for a, b in result.parameters["new_file_map"].items()), title)
    return result


def monitor_url(request: BatchRequest) -> str:
    """The absolute /monitor/<key>/ URL of the request's jpoll channel, on the server `result_url` names."""
    return request.result_url(request.channel).replace("/display_result/", "/monitor/", 1) + "/"


def start(request: BatchRequest, title: str, named: dict[str, list[str]] | None = None) -> tuple[str, list[str]]:
    """Check the form, choose the derive-from context and send STARTED; (context, ingest files).

    `named`: for the kinds that take files named in the form instead of uploads, those files
    under their heading ("Deleted files"), for the STARTED mail.
    """
    _check_request(request)
    uploads = certify.ingested_files(request.user) if named is None else []
    if named is None and not uploads:
        raise SubmissionError("No input files were specified.")
    try:
        context = certify.choose_context(request.pmap_mode, request.pmap_name)
    except certify.CertifyError as exc:
        raise SubmissionError(str(exc)) from None
    monitor = f"Monitor at: {monitor_url(request)}\n" if request.channel else ""
    files = "".join(f"{heading}: {', '.join(names)}\n" for heading, names in (named or {"Files": uploads}).items())
    _send("STARTED", request, f"{monitor}Description: {request.description}\n{files}", title)
    return context, uploads


def reference_uploads(request: BatchRequest, uploads: list[str], kind: str) -> tuple[dict, dict]:
    """({upload: path}, {upload: (instrument, filekind)}) of uploads that must all be references."""
    folder = storage.ingest_dir(request.user)
    for name in uploads:
        if storage.is_mapping(name):
            raise SubmissionError(f"Mappings cannot be {kind}: '{name}'.")
        if not request.auto_rename and not crds_config.is_valid_reference_name(name):
            raise SubmissionError(f"Only CRDS-style and CDBS-style names can be accepted without renaming: "
                                  f"'{name}'.")
    paths = {name: folder / name for name in uploads}
    kinds = {name: file_properties(path) for name, path in paths.items()}
    check_lock(request, kinds)
    return paths, kinds


def certify_uploads(request: BatchRequest, context: str, paths: dict[str, Path]) -> list[dict]:
    results = []
    for i, (name, path) in enumerate(paths.items(), 1):
        _progress(request, f"Certifying '{name}' [{i} / {len(paths)} files]")
        results.append(vars(certify.certify_file(str(path), name, context, request.compare_old_reference)))
    return results


def bad_files(request: BatchRequest, context: str, results: list[dict], uploads: list[str], title: str,
              **parameters) -> StoredResult | None:
    """The BAD FILES result (e-mailed) if any certify result failed, else None."""
    if not any(r["status"] == "Failed" for r in results):
        return None
    result = _ready_result(request, context, {"disposition": "bad files", "certify_results": results,
                                              "uploaded_basenames": uploads, **parameters})
    _send("BAD FILES", request, f"Review at: {request.result_url(result.name)}\n"
                                f"Description: {request.description}\n", title)
    return result


def renames_by_rewrite(request: BatchRequest) -> bool:
    """HST references are renamed by crds uniqname, which writes a new file under the new name."""
    return request.auto_rename and settings.CRDS_OBSERVATORY == "hst"


def start_hashing(paths: dict[str, Path], hashes: storage.Hashes) -> None:
    """Start reading the uploads for their sha1sums, which `add_references` needs only at its end.

    Every upload is read: a file rewritten under its new name is cataloged with the sum of
    the new file, and its own sum, recorded as `uploaded_sha1sum`, is what recognizes a later
    upload of the same file (§16.16).
    """
    for name, path in paths.items():
        hashes.start(name, path)


def add_references(request: BatchRequest, added: _Added, paths: dict[str, Path], kinds: dict[str, tuple[str, str]],
                   hashes: storage.Hashes) -> dict[str, str]:
    """Name, place and catalog the uploaded references as `uploaded`, then refuse duplicates
    (§5.3.6); {upload: official name}.

    The uploads' sha1sums (`start_hashing`) are awaited only once the files are placed, so
    reading a large upload overlaps its renaming rewrite.  A file rewritten under its new name
    (HST) is hashed in `hashes` as it is written when large, just after otherwise (both from
    the page cache); `record_sums` stores those sums.  A linked or copied file has the sum of
    its upload.  Every record keeps its upload's sum for later duplicate checks.
    """
    new_file_map: dict[str, str] = {}
    renamed: set[str] = set()
    for name, path in paths.items():
        instrument, filekind = kinds[name]
        official = official_reference_name(name, path, instrument, filekind, request.auto_rename)
        _progress(request, f"Renaming '{name}' --> '{official}'" if official != name else f"Adding '{name}'")
        renamed_hst = renames_by_rewrite(request)
        # The record comes first, so a worker killed at any point leaves a record to clean up.
        catalog_new(official, request, type="reference", instrument=instrument, filekind=filekind,
                    uploaded_as=name)
        added.names.append(official)
        target = storage.cache_path(official)
        follow = renamed_hst and path.stat().st_size >= FOLLOW_WRITES_FROM
        written = hashes.follow(official, target) if follow else None
        try:
            place_reference(path, official, renamed_hst)
        finally:
            if written:
                written.set()
        if renamed_hst:
            if not follow:
                hashes.start(official, target)
            renamed.add(official)
        FileRecord.objects.filter(name=official).update(
            size=target.stat().st_size, **reference_metadata(target, settings.CRDS_OBSERVATORY))
        new_file_map[name] = official
    _progress(request, "Checking for duplicate files.")
    sums = check_duplicates(paths, {name: hashes.take(name) for name in paths})
    for name, official in new_file_map.items():
        own = {} if official in renamed else {"sha1sum": sums[name]}
        FileRecord.objects.filter(name=official).update(uploaded_sha1sum=sums[name], **own)
    return new_file_map


def record_sums(hashes: storage.Hashes) -> None:
    """Store the sha1sums still computing in `hashes` ({official name: sum}) in the catalog."""
    for name, digest in hashes.take_all().items():
        FileRecord.objects.filter(name=name).update(sha1sum=digest)


def write_rmap(request: BatchRequest, added: _Added, old: str, edit: Callable[[str, Path], None]) -> str:
    """Catalog the next official rmap after `old` and write it with `edit(old, new_path)`; its name."""
    instrument, filekind = naming.mapping_properties(old)
    new = naming.new_crds_name(instrument, filekind, ".rmap")
    _progress(request, f"Generating new rmap '{new}' from '{old}'.")
    catalog_new(new, request, type="mapping", instrument=instrument, filekind=filekind, derived_from=old,
                uploaded_as=new)
    added.names.append(new)
    new_path = storage.cache_path(new)
    edit(old, new_path)
    _set_mapping_names(new_path, new, old)
    new_path.chmod(0o444)
    FileRecord.objects.filter(name=new).update(sha1sum=storage.sha1_file(new_path), size=new_path.stat().st_size)
    return new


def certify_mappings(request: BatchRequest, context: str, names: list[str],
                     written_by_crds: bool = False) -> list[dict]:
    """Certify new cataloged mappings against `context` (`written_by_crds`: see certify.certify_file)."""
    results = []
    for new in sorted(names):
        _progress(request, f"Certifying new mapping '{new}'.")
        results.append(vars(certify.certify_file(str(storage.cache_path(new)), new, context, False,
                                                 written_by_crds=written_by_crds)))
    return results


def review(request: BatchRequest, derivations: dict[str, str]) -> tuple[list, list]:
    """(collision list, difference results) of new mappings {old: new}."""
    _progress(request, "Checking for derivation collisions and computing differences.")
    collision_list = [[new, old, others] for old, new in sorted(derivations.items())
                      if (others := collisions(new, old))]
    diff_results = []
    for old, new in sorted(derivations.items()):
        logical, text = differences(old, new)
        diff_results.append({"old": old, "new": new, "logical": logical, "text": text})
    return collision_list, diff_results


def _batch_steps(request: BatchRequest, added: _Added) -> StoredResult:
    """The steps of a Batch Submit References, recording what they add in `added`.

    Each upload is read once for its sha1sum, in a worker thread while it is certified and
    renamed; a file renamed by rewriting is hashed while the new rmaps are made and certified.
    """
    context, uploads = start(request, "Batch Submit")
    paths, kinds = reference_uploads(request, uploads, "batch submitted")
    with storage.Hashes() as hashes, tempfile.TemporaryDirectory(prefix="trial-",
                                                                 dir=settings.CRDS_SERVER_FILES) as trials:
        start_hashing(paths, hashes)
        results = certify_uploads(request, context, paths)
        if failed := bad_files(request, context, results, uploads, "Batch Submit"):
            return failed

        groups: dict[tuple[str, str], list[Path]] = {}
        for name, kind in kinds.items():
            groups.setdefault(kind, []).append(paths[name])
        _progress(request, "Trying the rmap insertions.")
        olds = trial_insertion(context, groups, Path(trials))

        new_file_map = add_references(request, added, paths, kinds, hashes)
        rmap_map: dict[str, str] = {}
        for kind, group in sorted(groups.items()):
            old = olds[kind]
            rmap_map[old] = write_rmap(request, added, old, official_insertion(
                Path(trials) / old, group, [storage.cache_path(new_file_map[p.name]) for p in group]))

        rmap_results = certify_mappings(request, context, list(rmap_map.values()), written_by_crds=True)
        if any(r["status"] == "Failed" for r in rmap_results):
            added.remove()
            return bad_files(request, context, results + rmap_results, uploads, "Batch Submit")

        collision_list, diff_results = review(request, rmap_map)
        record_sums(hashes)
    return _ready_result(request, context, {
        "new_file_map": {**new_file_map, **rmap_map}, "uploaded_basenames": uploads,
        "context_rmaps": sorted(rmap_map.values()), "certify_results": results + rmap_results,
        "collision_list": collision_list, "diff_results": diff_results, "reference_map": new_file_map,
        "rmap_map": rmap_map})


def official_insertion(trial: Path, uploads: list[Path], officials: list[Path]) -> Callable[[str, Path], None]:
    """The edit writing a new rmap with the official references: a copy of the trial rmap when no
    reference was renamed (the same crds insertion of the same headers and names), else the
    insertion redone with the official files."""
    if [path.name for path in uploads] == [path.name for path in officials]:
        return lambda old, new_path: shutil.copyfile(trial, new_path)
    return lambda old, new_path: insert_references(old, new_path, officials)


def announce_done(request: BatchRequest, result: StoredResult) -> None:
    if request.channel:
        jpoll.done(request.channel, jpoll.OK, request.result_url(result.name))


def _set_mapping_names(path: Path, name: str, derived_from: str) -> None:
    """Header `name` and `derived_from`, with the checksum recomputed (crds refactoring)."""
    from crds.refactoring import refactor

    refactor.update_derivation(str(path), derived_from)


def abandoned_uploads(older_than: datetime.timedelta) -> list[str]:
    """`uploaded` records no READY result is waiting on: left by a submission whose worker died."""
    pending: set[str] = set()
    for params in StoredResult.objects.filter(page_template=READY_TEMPLATE).values_list("parameters", flat=True):
        if params.get("disposition", "") in ("", "finalizing"):
            pending.update(params.get("new_file_map", {}).values())
    cutoff = datetime.datetime.now() - older_than
    return sorted(name for name in FileRecord.objects.filter(state=UPLOADED, delivery_date__lt=cutoff)
                  .values_list("name", flat=True) if name not in pending)


def remove_abandoned_uploads(older_than: datetime.timedelta = ABANDONED_AFTER) -> list[str]:
    """Delete abandoned `uploaded` records and their cache files (hourly job); returns their names."""
    return destroy_uploaded(abandoned_uploads(older_than))


def destroy_uploaded(names: list[str]) -> list[str]:
    """Delete still-`uploaded` records, then their cache files (cancel, failures); returns what was removed."""
    with transaction.atomic():
        removed = [name for name in names if FileRecord.objects.filter(name=name, state=UPLOADED).delete()[0]]
        cache.invalidate_on_commit()
    for name in removed:
        remove_cache_file(name)
    return removed
