"""Workers killed mid-chunk (real Celery workers, Redis, MariaDB): no dataset lost or counted twice.

Each test starts real workers on a shared MariaDB server root whose dataset
source holds a worker inside its third chunk (tests/flaky_source.HoldingSource),
SIGKILLs it there, and checks that the finished computation equals what one
`crds bestrefs` process finds for the same datasets.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from reprocessing.testing import WorkerRoot, mariadb_available
from reprocessing.tests.conftest import NEW, OLD, SHARED_CACHE, synthetic_rows
from reprocessing.tests.test_computation import client_affected

pytestmark = pytest.mark.skipif(not mariadb_available(), reason="no local MariaDB server reachable as root")

LEASE = 6  # seconds without a heartbeat after which a chunk counts as lost


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRDS_PATH", str(SHARED_CACHE))
        return synthetic_rows(3000, seed=3)


@pytest.fixture(scope="module")
def hold_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hold")


@pytest.fixture(scope="module")
def root(rows, hold_dir, tmp_path_factory):
    """One MariaDB server root (chunks of 15) with the 3,000 datasets; each test brings its own workers."""
    path = tmp_path_factory.mktemp("datasets") / "wfc3.jsonl"
    path.write_text("".join(json.dumps({"id": i, "header": h}) + "\n" for i, h in rows))
    server = WorkerRoot(SHARED_CACHE, redis_db=14, chunk_size=15, database="mariadb",
                        CRDS_DATASET_SOURCE="reprocessing.tests.flaky_source.HoldingSource",
                        CRDS_TEST_HOLD_DIR=str(hold_dir), CRDS_REPROCESSING_LEASE=str(LEASE))
    try:
        server.manage("load_datasets", str(path))
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def expected(root, rows, tmp_path_factory) -> list[str]:
    """The single-process answer: `crds bestrefs` on the same datasets, types and since-date."""
    from reprocessing import compute

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRDS_PATH", str(SHARED_CACHE))
        types, since = compute.plan(OLD, NEW)
        ids = client_affected(SHARED_CACHE, tmp_path_factory.mktemp("bestrefs"), rows, types["wfc3"], since["wfc3"])
    assert ids, "the datasets should include affected ones"
    return ids


@pytest.fixture
def workers(root, hold_dir):
    """The test's workers are stopped (and the hold released) whatever happens."""
    yield root
    for path in hold_dir.iterdir():
        path.unlink()
    root.stop_workers()


def start_computation(root: WorkerRoot) -> int:
    out = root.manage("compute_affected", OLD, NEW)
    return int(re.match(r"computation (\d+) running ", out).group(1))


def held_worker(hold_dir: Path, timeout: float = 120) -> tuple[int, str]:
    """(pid, first dataset id of its chunk) of the process holding a chunk; the hold is then released."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = list(hold_dir.glob("held-*"))
        if held:
            (hold_dir / "hold").unlink()
            return int(held[0].name.split("-")[1]), held[0].read_text()
        time.sleep(0.1)
    raise AssertionError("no worker reached its third chunk")


def wait_finished(root: WorkerRoot, computation_id: int, timeout: float = 180, monitor: bool = False) -> dict:
    """The computation once done or failed; with `monitor`, a monitor pass runs every 2 s meanwhile, as cron's."""
    deadline, passes = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        comp = root.computation(computation_id)
        if comp["state"] in ("done", "failed"):
            comp["monitor"] = passes
            return comp
        if monitor:
            passes.append(root.manage("monitor_reprocessing").strip())
            time.sleep(2)
        else:
            time.sleep(0.3)
    raise AssertionError(f"computation {computation_id} still {comp['state']}: {comp['chunks']}")


def affected_ids(root: WorkerRoot, comp: dict) -> list[str]:
    with gzip.open(root.root / "monitor_reprocessing" / comp["directory"] / "affected_ids.txt.gz", "rt") as handle:
        return handle.read().split()


def check_complete(root: WorkerRoot, comp: dict, expected: list[str]) -> None:
    """Done, the single-process answer, and every dataset in exactly one recorded chunk."""
    assert (comp["state"], comp["status"]) == ("done", 0), comp["message"]
    ids = affected_ids(root, comp)
    assert ids == expected and len(set(ids)) == len(ids)
    chunk_ids = [i for c in comp["chunks"] for i in c["dataset_ids"]]
    processed = sum(c["processed"] for c in comp["chunks"])
    assert len(chunk_ids) == len(set(chunk_ids)) == comp["total_datasets"] == processed
    recorded = [i for c in comp["chunks"] for i in c["affected"]]
    assert len(recorded) == len(set(recorded)) and sorted({i.split(":")[0].lower() for i in recorded}) == ids
    assert all(c["state"] == "done" for c in comp["chunks"])
    assert comp["affected_count"] == len(ids)


def test_killed_pool_process_chunk_is_computed_again(workers, hold_dir, expected):
    """SIGKILL of the process computing a chunk: Celery gives its task back and the task reclaims the chunk."""
    root = workers
    (hold_dir / "hold").touch()
    [worker] = root.start_workers(1)
    computation_id = start_computation(root)
    pid, first_id = held_worker(hold_dir)
    assert pid != worker.pid  # the pool process, not the worker's main process
    held = [c for c in root.computation(computation_id)["chunks"] if c["state"] == "running"]
    assert [c["dataset_ids"][0] for c in held] == [first_id] and held[0]["worker"].endswith(f":{pid}")
    os.kill(pid, signal.SIGKILL)
    comp = wait_finished(root, computation_id, timeout=LEASE * 10)
    check_complete(root, comp, expected)
    [again] = [c for c in comp["chunks"] if c["index"] == held[0]["index"]]
    assert again["attempts"] == 2 and again["task"] == held[0]["task"] and not again["worker"].endswith(f":{pid}")
    assert all(c["attempts"] == 1 for c in comp["chunks"] if c["index"] != again["index"])
    assert "exited with 'signal 9 (SIGKILL)'" in root.worker_log(worker)


def test_lost_worker_is_replaced_and_its_chunk_recovered_then_rerun(workers, hold_dir, expected):
    """A whole worker SIGKILLed mid-chunk (its machine lost); a new worker takes the queue, and a monitor pass
    sends the lost chunk again once its lease expired.  A rerun of the transition gives the same answer."""
    root = workers
    (hold_dir / "hold").touch()
    [first] = root.start_workers(1)
    computation_id = start_computation(root)
    pid, first_id = held_worker(hold_dir)
    root.kill_worker(first)
    lost = [c for c in root.computation(computation_id)["chunks"] if c["state"] == "running"]
    assert [c["dataset_ids"][0] for c in lost] == [first_id] and lost[0]["worker"].endswith(f":{pid}")
    [second] = root.start_workers(1)
    comp = wait_finished(root, computation_id, monitor=True)
    check_complete(root, comp, expected)
    assert any(f"computation {computation_id}: 1 lost chunks sent again" in line for line in comp["monitor"]), \
        comp["monitor"]
    [again] = [c for c in comp["chunks"] if c["index"] == lost[0]["index"]]
    assert again["attempts"] == 2 and again["task"] != lost[0]["task"] and again["worker"] != lost[0]["worker"]

    rerun = root.manage("compute_affected", OLD, NEW, "--wait", "--timeout", "180")
    assert " done OK " in rerun, rerun
    second_comp = root.computation()
    assert second_comp["id"] != computation_id and second_comp["directory"] != comp["directory"]
    check_complete(root, second_comp, expected)
    assert second.poll() is None


def test_interrupted_computation_is_resumed_by_the_operator(workers, hold_dir, expected):
    """The only worker is killed mid-chunk; with a new worker, `compute_affected --resume` completes the
    computation at once (no lease to wait for); resuming a done computation is refused."""
    root = workers
    (hold_dir / "hold").touch()
    [first] = root.start_workers(1)
    computation_id = start_computation(root)
    held_worker(hold_dir)
    root.kill_worker(first)
    interrupted = root.computation(computation_id)
    assert interrupted["state"] == "running"
    assert 2 <= sum(c["state"] == "done" for c in interrupted["chunks"]) < interrupted["total_chunks"]
    root.start_workers(1)
    deadline = time.monotonic() + 120
    total = interrupted["total_chunks"]
    while sum(c["state"] == "done" for c in root.computation(computation_id)["chunks"]) < total - 1:
        assert time.monotonic() < deadline, "the new worker did not compute the queued chunks"
        time.sleep(0.3)
    time.sleep(LEASE + 1)
    assert root.computation(computation_id)["state"] == "running"  # the lost chunk waits for a resume
    out = root.manage("compute_affected", "--resume", str(computation_id), "--wait", "--timeout", "180")
    assert f"computation {computation_id} done OK " in out, out
    comp = root.computation(computation_id)
    check_complete(root, comp, expected)
    assert comp["directory"] == interrupted["directory"]
    with pytest.raises(RuntimeError, match=f"Computation {computation_id} .* is done: nothing to resume"):
        root.manage("compute_affected", "--resume", str(computation_id))
