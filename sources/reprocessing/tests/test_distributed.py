"""Real Redis + real Celery workers: 1 and 2 workers give the same result; a failed chunk is retried."""

from __future__ import annotations

import gzip
import json

import pytest

from reprocessing.testing import WorkerRoot
from reprocessing.tests.conftest import NEW, OLD, SHARED_CACHE, synthetic_rows


def result(root: WorkerRoot, directory: str) -> list[str]:
    with gzip.open(root.root / "monitor_reprocessing" / directory / "affected_ids.txt.gz", "rt") as handle:
        return handle.read().split()


@pytest.fixture(scope="module")
def datasets_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("datasets") / "wfc3.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRDS_PATH", str(SHARED_CACHE))
        rows = synthetic_rows(3000, seed=3)
    path.write_text("".join(json.dumps({"id": i, "header": h}) + "\n" for i, h in rows))
    return path


def run_with_workers(datasets_file, count: int, **env) -> tuple[WorkerRoot, dict]:
    root = WorkerRoot(SHARED_CACHE, chunk_size=15, **env)
    try:
        root.manage("load_datasets", str(datasets_file))
        root.start_workers(count)
        root.manage("compute_affected", OLD, NEW, "--wait", "--timeout", "120")
        return root, root.computation()
    except Exception:
        root.close()
        raise


def test_two_workers_with_failing_chunks_match_one_worker(datasets_file, tmp_path):
    """Same ids, counts and chunks with 1 or 2 workers, although every chunk failed once on the 2 workers."""
    one, comp1 = run_with_workers(datasets_file, 1)
    two, comp2 = run_with_workers(datasets_file, 2, CRDS_TEST_FAULT_DIR=str(tmp_path),
                                  CRDS_DATASET_SOURCE="reprocessing.tests.flaky_source.FailOnceSource")
    try:
        assert comp1["state"] == comp2["state"] == "done" and comp1["status"] == comp2["status"] == 0
        assert comp1["total_chunks"] >= 4
        assert result(one, comp1["directory"]) == result(two, comp2["directory"])
        assert result(one, comp1["directory"]), "expected some affected datasets"
        assert comp1["affected_count"] == comp2["affected_count"] and comp1["counts"] == comp2["counts"]
        assert [c["dataset_ids"] for c in comp1["chunks"]] == [c["dataset_ids"] for c in comp2["chunks"]]
        first_attempts = {marker.read_text() for marker in tmp_path.iterdir()}
        assert len(first_attempts | {c["worker"] for c in comp2["chunks"]}) == 2  # both workers took chunks
        # every chunk failed once (injected) and was retried: none dropped, none duplicated
        assert len(list(tmp_path.iterdir())) == comp2["total_chunks"]
        assert all(c["state"] == "done" and c["attempts"] == 2 for c in comp2["chunks"])
        assert all(c["attempts"] == 1 for c in comp1["chunks"])
        assert sum(c["processed"] for c in comp2["chunks"]) == comp2["total_datasets"]
    finally:
        one.close()
        two.close()
