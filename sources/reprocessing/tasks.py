"""Celery tasks of the affected-datasets computation (eager, in-process, in the embedded stack).

Tasks are acknowledged after they ran (acks_late) and given back to the queue
when their worker process dies (reject_on_worker_lost): the same task, given
out again, reclaims its chunk at once.  A chunk held by a whole worker that
died (its message stays unacknowledged in the broker) is sent again by
`compute.resume_stalled` once its lease expires.
"""

from __future__ import annotations

from celery import shared_task

from reprocessing import compute

MAX_RETRIES = 3


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def compute_chunk(self, chunk_id: int) -> int:
    """Compute one chunk; retried on failure, recorded as failed (never dropped) after the last retry."""
    try:
        compute.run_chunk(chunk_id, self.request.id or "")
    except Exception as exc:
        compute.release(chunk_id)
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=0 if self.request.is_eager else 2) from exc
        compute.record_chunk_failure(chunk_id, f"{exc.__class__.__name__}: {exc}")
    computation_id = compute.Chunk.objects.values_list("computation_id", flat=True).get(id=chunk_id)
    if compute.ready_to_finish(computation_id):
        finish_computation.delay(computation_id)
    return chunk_id


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def finish_computation(computation_id: int) -> int:
    if compute.Computation.objects.filter(id=computation_id).exclude(state__in=("done", "failed")).exists():
        compute.Computation.objects.filter(id=computation_id).update(state=compute.FINISHING)
        compute.finish(computation_id)
    return computation_id


@shared_task(ignore_result=True)
def monitor_reprocessing(previous: str = "") -> str:
    """A monitor pass; `previous` is the operational context a set context just replaced."""
    from reprocessing import monitor

    return monitor.check(previous=previous)


@shared_task(ignore_result=True)
def query_affected_datasets(server_url: str = "") -> str:
    """host/query_affected_datasets for beat: publish the newly affected ids, mailed to the operators."""
    from operations import mailreport

    from reprocessing import query_affected

    published = query_affected.run(server_url)
    report = query_affected.report(published)
    if report is not None:
        mailreport.send(report)
    return published.line
