"""Claims, leases and resuming (in-process tasks): which chunks are computed again, and that each is recorded once."""

from __future__ import annotations

import datetime

import pytest

from reprocessing import compute
from reprocessing.models import Chunk, Computation
from reprocessing.tests.conftest import NEW, OLD

LONG_AGO = datetime.datetime(2020, 1, 1)


@pytest.fixture
def planned(catalog, reprocessing_root, settings):
    """A computation of several chunks, planned but not dispatched (as if its messages were lost)."""
    settings.CRDS_REPROCESSING_LEASE = 60
    comp = compute.start(OLD, NEW, chunk_size=3, dispatch=False)
    assert comp.total_chunks >= 3
    return comp


def test_a_chunk_is_claimed_once_and_recorded_once(planned):
    first = planned.chunks.get(index=0)
    assert compute.claim(first.id, "task-a") is not None
    assert compute.claim(first.id, "task-b") is None  # held by a live worker
    assert compute.run_chunk(first.id, "task-b") is False
    assert compute.claim(first.id, "task-a") is not None  # the same task given out again: its process died
    Chunk.objects.filter(id=first.id).update(heartbeat=LONG_AGO)
    assert compute.run_chunk(first.id, "task-c") is True  # the lease expired
    first.refresh_from_db()
    assert (first.state, first.attempts, first.task) == ("done", 3, "task-c")
    recorded = (first.affected, first.finished)
    assert compute.run_chunk(first.id, "task-d") is False and compute.claim(first.id, "task-a") is None
    first.refresh_from_db()
    assert (first.affected, first.finished, first.attempts) == (*recorded, 3)


def test_monitor_pass_sends_again_only_lost_work(planned):
    now = datetime.datetime.now()
    chunks = list(planned.chunks.order_by("index"))
    Computation.objects.filter(id=planned.id).update(dispatched=now)
    assert compute.resume_stalled() == {}  # dispatched within the lease: nothing is late yet
    Computation.objects.filter(id=planned.id).update(dispatched=LONG_AGO)
    Chunk.objects.filter(id=chunks[0].id).update(state="running", worker="gone:1", heartbeat=LONG_AGO)
    Chunk.objects.filter(id=chunks[1].id).update(state="running", worker="alive:2", heartbeat=now)
    # Another chunk showed activity within the lease: pending chunks may just be queued, only the lost one is sent.
    assert compute.resume_stalled() == {planned.id: 1}
    states = dict(planned.chunks.values_list("index", "state"))
    assert states[0] == "done" and states[1] == "running" and set(list(states.values())[2:]) == {"pending"}

    # Nothing anywhere for a lease: the pending chunks' messages are taken to be lost too.
    Computation.objects.filter(id=planned.id).update(dispatched=LONG_AGO)
    Chunk.objects.update(heartbeat=LONG_AGO, finished=LONG_AGO)
    sent = compute.resume_stalled()
    assert sent == {planned.id: planned.total_chunks - 1}  # the pending ones and the no longer beating one
    planned.refresh_from_db()
    assert planned.state == "done" and planned.chunks.filter(state="done").count() == planned.total_chunks
    assert len(list(compute.reprocessing_dir().glob(f"{planned.directory}/*.gz"))) == 3


def test_stuck_finish_is_sent_again_and_done_cannot_be_resumed(planned):
    for chunk in planned.chunks.all():
        compute.run_chunk(chunk.id)
    Computation.objects.filter(id=planned.id).update(state="finishing", dispatched=LONG_AGO)
    assert compute.resume_stalled() == {planned.id: 0}
    planned.refresh_from_db()
    assert planned.state == "done" and planned.status == 0
    with pytest.raises(compute.ComputationError, match="is done: nothing to resume"):
        compute.resume(planned)


def test_resume_recomputes_failed_chunks(planned):
    chunks = list(planned.chunks.order_by("index"))
    for chunk in chunks[1:]:
        compute.run_chunk(chunk.id)
    compute.record_chunk_failure(chunks[0].id, "ConnectionError: archive down")
    assert compute.ready_to_finish(planned.id)
    compute.finish(planned.id)
    planned.refresh_from_db()
    assert (planned.state, planned.status_word) == ("failed", "FAILED")
    assert compute.resume(planned) == 1
    planned.refresh_from_db()
    assert (planned.state, planned.status_word) == ("done", "OK")
    assert planned.chunks.get(index=0).state == "done"
