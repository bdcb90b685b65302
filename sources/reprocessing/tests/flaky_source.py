"""Dataset sources that misbehave on purpose, injected through the pluggable source interface
(settings.CRDS_DATASET_SOURCE): a worker fault for the retry test, a worker that stops
mid-chunk so that the worker-loss tests can kill it there, and an archive that is down."""

from __future__ import annotations

import os
import time
from pathlib import Path

from reprocessing.compute import worker_name
from reprocessing.sources import DatabaseSource


class FailOnceSource(DatabaseSource):
    def headers(self, ids, since="1900-01-01 00:00:00"):
        marker = Path(os.environ["CRDS_TEST_FAULT_DIR"]) / (ids[0].replace(":", "_") if ids else "empty")
        try:
            with marker.open("x") as handle:
                handle.write(worker_name())
        except FileExistsError:
            return super().headers(ids, since)
        raise ConnectionError("archive parameter service unavailable (injected fault)")


class ArchiveDownSource(DatabaseSource):
    def dataset_ids(self, instrument, since="1900-01-01 00:00:00"):
        raise ConnectionError("archive parameter service unavailable\n(injected fault)")


class OvertakenSource(DatabaseSource):
    """A source so slow that another monitor pass (run here, with the plain source) records the change first."""

    def dataset_ids(self, instrument, since="1900-01-01 00:00:00"):
        from django.test import override_settings

        from reprocessing import monitor

        with override_settings(CRDS_DATASET_SOURCE="reprocessing.sources.DatabaseSource"):
            monitor.check()
        return super().dataset_ids(instrument, since)


class HoldingSource(DatabaseSource):
    """While `<CRDS_TEST_HOLD_DIR>/hold` exists, a process's third read waits for a `release` file there.

    The holding process writes `held-<pid>` (the chunk's first id inside) first,
    so a test knows which process to kill and that it holds a claimed chunk.
    """

    reads = 0

    def headers(self, ids, since="1900-01-01 00:00:00"):
        HoldingSource.reads += 1
        hold_dir = Path(os.environ["CRDS_TEST_HOLD_DIR"])
        if HoldingSource.reads == 3 and (hold_dir / "hold").exists():
            partial = hold_dir / f".held-{os.getpid()}"
            partial.write_text(ids[0] if ids else "")
            partial.rename(hold_dir / f"held-{os.getpid()}")
            deadline = time.monotonic() + 600
            while not (hold_dir / "release").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        return super().headers(ids, since)
