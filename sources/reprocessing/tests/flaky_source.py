"""A dataset source that fails the first time each chunk is read: a worker fault, injected through
the pluggable source interface (settings.CRDS_DATASET_SOURCE) for the retry test."""

from __future__ import annotations

import os
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
