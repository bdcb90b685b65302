"""The affected-datasets computation: plan, chunks, per-dataset comparison, outputs.

This is the service surface that tasks, management commands, the monitor and
views call:

* `start(old, new)` plans a computation (crds diff of the two contexts, the
  datasets of the affected instruments observed since the earliest changed
  USEAFTER), splits the dataset ids into chunks and dispatches one Celery
  task per chunk;
* `run_chunk(chunk_id)` claims one chunk, computes it and records its result;
* `finish(computation_id)` merges the chunk results in chunk order, writes the
  output directory, mails the result and marks the computation done.

A chunk is recorded once, whoever computes it: a worker claims it (state
running, with a heartbeat) and the first result recorded wins.  A chunk whose
worker died (no heartbeat for settings.CRDS_REPROCESSING_LEASE seconds) can
be claimed again: `resume_stalled()` (each monitor pass) and `resume()`
(`compute_affected --resume`) send its task again.  Progress goes to the
computation's jpoll channel as chunks complete.

The comparison mirrors `crds bestrefs --old-context O --new-context N
--affected-datasets` (--na-differences-matter --undefined-differences-matter
--diffs-only --datasets-since=auto); best references come from the crds
library against the server's file cache.
"""

from __future__ import annotations

import datetime
import functools
import gzip
import os
import re
import socket
import time
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, F, Max, Q, Sum
from django.urls import get_script_prefix, reverse

from reprocessing.models import (
    CHUNK_DONE,
    CHUNK_FAILED,
    CHUNK_PENDING,
    CHUNK_RUNNING,
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    Chunk,
    Computation,
)
from reprocessing.sources import MIN_DATE, get_source

MAX_DATE = "9999-01-01 23:59:59"
CONTEXT_RE = re.compile(r"^([a-z]+)_([0-9]+)\.pmap\Z")
FINISHING = "finishing"


class ComputationError(ValueError):
    """A computation that cannot be started as asked (bad or unknown contexts)."""


def reprocessing_dir() -> Path:
    return settings.CRDS_ROOT / "monitor_reprocessing"


def context_serial(context: str) -> str:
    """"hst_0729.pmap" → "0729" (leading zeros kept)."""
    match = CONTEXT_RE.match(str(context))
    if not match or match.group(1) != settings.CRDS_OBSERVATORY:
        raise ComputationError(f"Invalid context {str(context)[:80]!r}: give a {settings.CRDS_OBSERVATORY} "
                               f"pipeline mapping such as {settings.CRDS_OBSERVATORY}_0001.pmap.")
    return match.group(2)


def load_context(context: str):
    """The loaded pipeline mapping `context`, read only from the server's file cache (never fetched)."""
    import crds
    from crds.core import config

    context_serial(context)
    if not Path(config.locate_mapping(context)).is_file():
        raise ComputationError(f"Context {context!r} is not in the server's file cache.")
    try:
        return crds.get_cached_mapping(context)
    except Exception as exc:
        raise ComputationError(f"Context {context!r} cannot be loaded: {exc}") from None


# ----------------------------------------------------------------------------- planning

def plan(old_context: str, new_context: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """({instrument: [types]}, {instrument: since date}) for the change old → new.

    The types come from crds's MappingDifferencer; the since-dates are the
    earliest USEAFTER of references added or removed per instrument, or the
    beginning of time when an rmap header changed or files were deleted.
    """
    import crds
    from crds import diff, matches

    for context in (old_context, new_context):
        load_context(context)
    differ = diff.MappingDifferencer(settings.CRDS_OBSERVATORY, old_context, new_context,
                                     include_header_diffs=True, hide_boring_diffs=True)
    # get_affected, header_modified and files_deleted each difference the contexts again (reloading every
    # mapping, most of the planning time): let them share one difference.
    differences = differ.mapping_diffs()
    differ.mapping_diffs = lambda: differences
    affected = {instr.lower(): sorted(types) for instr, types in differ.get_affected().items()}
    if not affected:
        return {}, {}
    if differ.header_modified() or differ.files_deleted():
        return affected, {instr: MIN_DATE for instr in affected}
    old_pmap, new_pmap = crds.get_cached_mapping(old_context), crds.get_cached_mapping(new_context)
    since: dict[str, str] = {}
    for instrument in affected:
        if instrument not in old_pmap.selections or instrument not in new_pmap.selections:
            since[instrument] = MIN_DATE
            continue
        old_imap, new_imap = old_pmap.get_imap(instrument), new_pmap.get_imap(instrument)
        added = diff.get_added_references(old_imap, new_imap)
        deleted = diff.get_deleted_references(old_imap, new_imap)
        earliest = min(matches.get_minimum_exptime(new_imap, added) if added else MAX_DATE,
                       matches.get_minimum_exptime(old_imap, deleted) if deleted else MAX_DATE)
        # bestrefs treats an affected instrument without a since-date as "all dates".
        since[instrument] = earliest if earliest != MAX_DATE else MIN_DATE
    return affected, since


def directory_name(old_context: str, new_context: str, when: datetime.datetime) -> str:
    return f"{when:%Y-%m-%d-%H:%M:%S}_{context_serial(old_context)}_{context_serial(new_context)}"


def start(old_context: str, new_context: str, chunk_size: int | None = None, dispatch: bool = True) -> Computation:
    """Plan old → new, record the computation and its chunks, and dispatch the chunk tasks."""
    if int(context_serial(new_context)) <= int(context_serial(old_context)):
        raise ComputationError(f"{new_context} is not newer than {old_context}: reversions are not computed.")
    chunk_size = chunk_size or settings.CRDS_REPROCESSING_CHUNK_SIZE
    affected, since = plan(old_context, new_context)
    source = get_source()
    ids: list[str] = []
    for instrument in sorted(affected):
        ids.extend(source.dataset_ids(instrument, since[instrument]))
    ids.sort()
    now = datetime.datetime.now().replace(microsecond=0)
    with transaction.atomic():
        comp = Computation.objects.create(
            observatory=settings.CRDS_OBSERVATORY, old_context=old_context, new_context=new_context,
            state=RUNNING, created=now, directory=directory_name(old_context, new_context, now),
            affected_types=affected, since=since, total_datasets=len(ids),
            total_chunks=(len(ids) + chunk_size - 1) // chunk_size, channel=open_channel())
        Chunk.objects.bulk_create([Chunk(computation=comp, index=n, dataset_ids=ids[start:start + chunk_size])
                                   for n, start in enumerate(range(0, len(ids), chunk_size))])
    types = "; ".join(f"{instrument} {' '.join(kinds)} since {since[instrument]}"
                      for instrument, kinds in sorted(affected.items()))
    publish(comp, f"Computing datasets affected by {old_context} --> {new_context} ({types or 'no differences'}): "
                  f"{len(ids)} datasets in {comp.total_chunks} chunks.")
    if dispatch:
        dispatch_pending(comp)
    return comp


def dispatch_pending(comp: Computation) -> int:
    """Send a task for every chunk not yet done, or the finish when none is left; the number sent."""
    return _dispatch(comp, list(comp.chunks.exclude(state=CHUNK_DONE).values_list("id", flat=True)))


def _dispatch(comp: Computation, chunk_ids: list[int]) -> int:
    from reprocessing import tasks

    Computation.objects.filter(id=comp.id).update(dispatched=datetime.datetime.now())
    if not chunk_ids:
        tasks.finish_computation.delay(comp.id)
        return 0
    for chunk_id in chunk_ids:
        tasks.compute_chunk.delay(chunk_id)
    return len(chunk_ids)


def resume(comp: Computation) -> int:
    """Compute again every chunk not done (`compute_affected --resume`), breaking the leases of running ones.

    For an operator who knows the workers are gone, or a computation that
    FAILED after retries; a chunk still being computed elsewhere is then
    computed twice and recorded once.
    """
    if comp.state == DONE:
        raise ComputationError(f"Computation {comp.id} ({comp.old_context} --> {comp.new_context}) is done: "
                               "nothing to resume; start it again to rerun it.")
    todo = comp.chunks.exclude(state=CHUNK_DONE)
    todo.update(state=CHUNK_PENDING, heartbeat=None)
    Computation.objects.filter(id=comp.id).update(state=RUNNING, finished=None)
    chunk_ids = list(todo.values_list("id", flat=True))
    if chunk_ids:
        publish(comp, f"Resumed: {len(chunk_ids)} unfinished chunks dispatched again.")
    return _dispatch(comp, chunk_ids)


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.CRDS_REPROCESSING_LEASE)


def resume_stalled(now: datetime.datetime | None = None) -> dict[int, int]:
    """Send again the work that lost workers held: {computation id: chunks sent}.

    A running chunk whose heartbeat is older than the lease lost its worker.
    Pending chunks are sent again only when no chunk of any computation
    showed activity for a lease and this computation was not dispatched
    within it: their messages are then lost (a worker killed between taking a
    message and claiming its chunk), not just queued behind other work.  A
    computation stuck finishing gets its finish again.  Duplicate messages
    are harmless: a chunk is claimed by one worker and recorded once.
    """
    now = now or datetime.datetime.now()
    stale = now - lease()
    activity = Chunk.objects.aggregate(beat=Max("heartbeat"), done=Max("finished"))
    quiet = max([t for t in activity.values() if t] or [datetime.datetime.min]) < stale
    sent: dict[int, int] = {}
    for comp in Computation.objects.filter(state__in=(RUNNING, FINISHING)):
        if comp.dispatched and comp.dispatched >= stale:
            continue
        if comp.state == FINISHING:
            sent[comp.id] = _dispatch(comp, [])
            continue
        lost = Q(state=CHUNK_RUNNING, heartbeat__lt=stale)
        if quiet:
            lost |= Q(state=CHUNK_PENDING)
        chunk_ids = list(comp.chunks.filter(lost).values_list("id", flat=True))
        if chunk_ids:
            publish(comp, f"{len(chunk_ids)} chunks lost by their workers dispatched again.")
            sent[comp.id] = _dispatch(comp, chunk_ids)
    return sent


# ----------------------------------------------------------------------------- progress (jpoll)

def open_channel() -> str:
    from jpoll import service

    return service.open_channel("reprocessing")


def _write(comp: Computation, write, *args) -> None:
    """Write to the computation's channel, which followers cannot silence: its key is on a public page,
    so a jpoll_abort of it is undone rather than obeyed (a computation is not stopped through jpoll)."""
    from jpoll import service
    from jpoll.models import Channel

    if not comp.channel:
        return
    try:
        write(comp.channel, *args)
    except service.Aborted:
        Channel.objects.filter(key=comp.channel).update(aborted=False)
        write(comp.channel, *args)


def publish(comp: Computation, text: str) -> None:
    """A progress line on the computation's jpoll channel; failures are logged by jpoll, never raised."""
    from jpoll import service

    _write(comp, service.write, text)


def publish_done(comp: Computation) -> None:
    """The final jpoll message: 0 and the computations page, or 1 and why the computation FAILED."""
    from jpoll import service

    if comp.state == DONE:
        _write(comp, service.done, service.OK, result_url(comp))
    else:
        _write(comp, service.fail, comp.message)


def result_url(comp: Computation) -> str:
    """The computations page, absolute, at this computation's row (the jpoll `done` result)."""
    path = reverse("reprocessing")[len(get_script_prefix()):]
    return f"{settings.CRDS_PUBLIC_URL}/{path}#computation-{comp.id}"


# ----------------------------------------------------------------------------- one dataset

def _classify(bestrefs: dict, filekind: str) -> tuple[bool, str, str | None]:
    """(ok, normalized reference, error text) as bestrefs' handle_na_and_not_found with
    --undefined-differences-matter."""
    original = str(bestrefs.get(filekind.upper(), "UNDEFINED")).split("$")[-1].strip()
    ref = original.upper()
    if ref.startswith("NOT FOUND N/A"):
        return True, "N/A", None
    if ref in ("NOT FOUND NO MATCH FOUND.", "UNDEFINED", "NONE", "", "*"):
        return False, ref, f"No match found: {original!r}"
    if ref.startswith("NOT FOUND"):
        return False, ref, f"Bestref FAILED: {original[len('NOT FOUND'):]}"
    return True, ref, None


@functools.lru_cache(maxsize=64)
def _lookup(context: str, instrument: str) -> tuple[object, tuple[str, ...]]:
    """(loaded context, the header keys its best references for `instrument` read); contexts never change."""
    from crds.core import heavy_client

    pmap = heavy_client.get_symbolic_mapping(context, cached=True)
    return pmap, (*pmap.get_imap(instrument).get_required_parkeys(), pmap.instrument_key)


def forget_loaded_contexts() -> None:
    """Drop the contexts _lookup holds (crds_server.wsgi.forget_loaded_rules, after a restore)."""
    _lookup.cache_clear()


def _bestrefs(parkeys: dict, instrument: str, types: list[str], context: str) -> dict[str, str]:
    """What crds.getrecommendations computes (heavy_client.hv_best_references), without its server/config
    look-up, for a header the caller conditioned and mapped to parkeys (locate.fits_to_parkeys) once for both
    contexts; minimized as minimize_header does, with the keys found once per context and instrument instead
    of for every dataset."""
    pmap, keys = _lookup(context, instrument)
    minimized = {key: parkeys.get(key.lower(), parkeys.get(key.upper(), "UNDEFINED")) for key in keys}
    refs = pmap.get_best_references(minimized, include=types)
    return {key.upper(): value for key, value in refs.items()}


def compare_dataset(dataset_id: str, header: dict, affected: dict[str, list[str]], old_context: str,
                    new_context: str) -> tuple[list[tuple[str, str, str, str]], list[str], bool]:
    """(updates, error messages, killed) for one dataset.

    An update is (instrument, type, old, new).  A dataset whose new lookup
    failed for some type is *killed*: it counts as an error, not as affected.
    """
    from crds.core import utils

    errors: list[str] = []
    short = dataset_id.split(":")[0] if dataset_id.split(":")[0] == dataset_id.split(":")[-1] else dataset_id
    try:
        instrument = utils.header_to_instrument(header).lower()
        types = sorted(affected.get(instrument, ()))
        if not types:
            return [], [], False
        # Conditioned and put in the rules' vocabulary once for both contexts (minimize_header's first step).
        parkeys = _lookup(old_context, instrument)[0].locate.fits_to_parkeys(utils.condition_header(header))
        old_refs = _bestrefs(parkeys, instrument, types, old_context)
        new_refs = _bestrefs(parkeys, instrument, types, new_context)
    except Exception as exc:
        return [], [f"ERROR - Failed processing {dataset_id!r} :: {exc.__class__.__name__}: {exc}"], True
    updates, killed = [], False
    for filekind in sorted(set(old_refs) | set(new_refs)):
        kind = filekind.lower()
        prefix = f"instrument={instrument.upper()} type={kind.upper()} data={short}"
        _old_ok, old, old_error = _classify(old_refs, kind)
        new_ok, new, new_error = _classify(new_refs, kind)
        if old_error:
            errors.append(f"ERROR - {prefix} :: Old: {old_error}")
        if new_error:
            errors.append(f"ERROR - {prefix} :: New: {new_error}")
        if not new_ok:
            killed = True
            continue
        if new != old:
            updates.append((instrument, kind, old.lower(), new.lower()))
    return updates, errors, killed


# ----------------------------------------------------------------------------- chunks

def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(chunk_id: int, task_id: str = "") -> Chunk | None:
    """Take a chunk for this worker; None when it is done, failed, or held by a live worker.

    A chunk is claimable when pending; when running without a heartbeat for a
    lease (its worker died); or when running under this same task, which the
    broker gives out again only after the process executing it died.
    """
    now = datetime.datetime.now()
    claimable = Q(state=CHUNK_PENDING) | Q(state=CHUNK_RUNNING, heartbeat__lt=now - lease())
    if task_id:
        claimable |= Q(state=CHUNK_RUNNING, task=task_id)
    taken = Chunk.objects.filter(claimable, id=chunk_id).update(
        state=CHUNK_RUNNING, worker=worker_name(), task=task_id, started=now, heartbeat=now,
        attempts=F("attempts") + 1)
    return Chunk.objects.select_related("computation").get(id=chunk_id) if taken else None


def release(chunk_id: int) -> None:
    """Give back a chunk this worker failed to compute, so that its retry can claim it at once."""
    Chunk.objects.filter(id=chunk_id, state=CHUNK_RUNNING, worker=worker_name()).update(state=CHUNK_PENDING)


def run_chunk(chunk_id: int, task_id: str = "") -> bool:
    """Claim, compute and record one chunk; False if it was not claimed or another worker recorded it first."""
    chunk = claim(chunk_id, task_id)
    if chunk is None:
        return False
    comp = chunk.computation
    headers = get_source().headers(chunk.dataset_ids)
    affected_ids, counts, log, errors = [], {}, [], 0
    interval = settings.CRDS_REPROCESSING_LEASE / 5
    beat = time.monotonic() + interval
    for dataset_id in chunk.dataset_ids:
        if time.monotonic() > beat:
            Chunk.objects.filter(id=chunk_id, state=CHUNK_RUNNING).update(heartbeat=datetime.datetime.now())
            beat = time.monotonic() + interval
        header = headers.get(dataset_id)
        if not isinstance(header, dict):
            errors += 1
            log.append(f"ERROR - Failed loading source {dataset_id!r} :: {header or 'no parameters returned'}")
            continue
        updates, messages, killed = compare_dataset(dataset_id, header, comp.affected_types,
                                                    comp.old_context, comp.new_context)
        errors += len(messages)
        log.extend(messages)
        if updates and not killed:
            affected_ids.append(dataset_id)
        for instrument, kind, _old, _new in updates:
            per = counts.setdefault(instrument, {})
            per[kind] = per.get(kind, 0) + 1
    now = datetime.datetime.now()
    done = Chunk.objects.filter(id=chunk_id, state__in=(CHUNK_PENDING, CHUNK_RUNNING)).update(
        state=CHUNK_DONE, processed=len(chunk.dataset_ids), affected=affected_ids, updates=counts,
        errors=errors, log="\n".join(log), worker=worker_name(), heartbeat=now, finished=now)
    if done:
        progress = comp.chunks.filter(state=CHUNK_DONE).aggregate(datasets=Sum("processed"), chunks=Count("id"))
        datasets, chunks_done = progress["datasets"] or 0, progress["chunks"]
        percent = 100.0 * datasets / comp.total_datasets if comp.total_datasets else 100.0
        publish(comp, f"Chunk {chunk.index + 1} of {comp.total_chunks} done by {worker_name()}: "
                      f"{len(chunk.dataset_ids)} datasets, {len(affected_ids)} affected, {errors} errors. "
                      f"{datasets} of {comp.total_datasets} datasets ({percent:.1f}%), "
                      f"{chunks_done} of {comp.total_chunks} chunks done.")
    return bool(done)


def record_chunk_failure(chunk_id: int, message: str) -> None:
    """A chunk that failed every retry: kept as failed so the computation reports FAILED."""
    failed = Chunk.objects.filter(id=chunk_id).exclude(state=CHUNK_DONE).update(
        state=CHUNK_FAILED, log=f"ERROR - chunk failed after retries: {message}", worker=worker_name(),
        finished=datetime.datetime.now())
    if failed:
        chunk = Chunk.objects.select_related("computation").get(id=chunk_id)
        publish(chunk.computation, f"Chunk {chunk.index + 1} of {chunk.computation.total_chunks} FAILED after "
                                   f"retries: {message}")


def ready_to_finish(computation_id: int) -> bool:
    """True for exactly one caller once every chunk is done or failed."""
    if Chunk.objects.filter(computation_id=computation_id).exclude(state__in=(CHUNK_DONE, CHUNK_FAILED)).exists():
        return False
    return bool(Computation.objects.filter(id=computation_id, state__in=(RUNNING, PENDING)).update(
        state=FINISHING, dispatched=datetime.datetime.now()))


# ----------------------------------------------------------------------------- outputs

def truncated(lines: list[str], head: int = 200, tail: int = 200) -> list[str]:
    if len(lines) < head + tail:
        return lines
    return lines[:head] + ["<snip>"] + lines[-tail:]


def subject(comp: Computation) -> str:
    return (f"{comp.status_word}: CRDS {comp.observatory} {settings.CRDS_USECASE} datasets affected "
            f"{comp.old_context} --> {comp.new_context} : {comp.affected_count} affected")


def _gzip(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt") as handle:
        handle.write(text)
    tmp.replace(path)


def finish(computation_id: int) -> Computation:
    """Merge chunk results (in chunk order), write outputs, mail, and mark the computation done."""
    comp = Computation.objects.get(id=computation_id)
    chunks = list(comp.chunks.order_by("index").defer("dataset_ids"))
    products = sorted({ident.split(":")[0].lower() for c in chunks if c.state == CHUNK_DONE for ident in c.affected})
    counts: dict[str, dict[str, int]] = {}
    for c in chunks:
        for instrument, per in c.updates.items():
            for kind, n in per.items():
                counts.setdefault(instrument, {})[kind] = counts.setdefault(instrument, {}).get(kind, 0) + n
    failed = [c.index for c in chunks if c.state != CHUNK_DONE]
    errors = sum(c.errors for c in chunks)
    comp.status = 2 if failed else (1 if errors else 0)
    comp.affected_count, comp.error_count, comp.counts = len(products), errors, counts
    lines = [f"INFO - Mapping differences from {comp.old_context!r} --> {comp.new_context!r} affect: "
             f"{comp.affected_types}",
             f"INFO - Possibly affected --datasets-since dates: {comp.since}",
             f"INFO - {comp.total_datasets} datasets in {comp.total_chunks} chunks"]
    for c in chunks:
        lines.extend(line for line in c.log.splitlines() if line)
    if failed:
        lines.append(f"ERROR - chunks {failed} failed after retries; their datasets were not computed.")
    lines += [f"INFO - Updated exposure counts: {counts}", f"INFO - Affected products = {len(products)}",
              f"INFO - {errors} errors", f"INFO - {len(failed)} failed chunks"]
    title = subject(comp)
    outdir = reprocessing_dir() / comp.directory
    outdir.mkdir(parents=True, exist_ok=True)
    ids_text = "".join(p + "\n" for p in products)
    _gzip(outdir / "affected_ids.txt.gz", ids_text)
    (outdir / "bestrefs.status").write_text(f"{comp.status}\n")
    opening = (f"CRDS {comp.observatory} {settings.CRDS_USECASE} datasets affected {comp.old_context} --> "
               f"{comp.new_context} on {comp.directory.rsplit('_', 2)[0]}")
    _gzip(outdir / "bestrefs_err.txt.gz", "\n".join([opening, *lines, title]) + "\n")
    short = "\n".join(truncated(lines)) + "\n"
    send_mail(comp, title, short, (outdir / "affected_ids.txt.gz").read_bytes())
    _gzip(outdir / "bestrefs_err_truncated.txt.gz", short)  # last: marks the run complete
    comp.state = FAILED if failed else DONE
    comp.finished = datetime.datetime.now().replace(microsecond=0)
    comp.message = f"{len(products)} affected, {errors} errors" + (f", chunks {failed} failed" if failed else "")
    comp.save()
    publish(comp, f"Finished: {title}")
    publish_done(comp)
    return comp


def send_mail(comp: Computation, title: str, snipped_log: str, ids_gz: bytes) -> None:
    """The original's result mail (server-behaviour.md §10): the subject carries the outcome, the body is
    empty; attached are the snipped log and the result directory's own affected_ids.txt.gz, byte for byte."""
    recipients = settings.CRDS_REPROCESSING_EMAILS
    if not recipients:
        return
    message = EmailMessage(subject=title, body="", to=recipients)
    message.attach("bestrefs_err_truncated.txt", snipped_log, "text/plain")
    message.attach("affected_ids.txt.gz", ids_gz, "application/gzip")
    try:
        message.send()
    except OSError as exc:  # the result is on disk and in the database; the mail is a courtesy
        comp.message = f"mail not sent: {exc}"
