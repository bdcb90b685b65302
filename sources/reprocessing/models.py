"""The dataset catalog and the records of affected-datasets computations.

Dataset ids are stored upper-case as `<PRODUCT>:<EXPOSURE>`, as the archive
and the crds client use them; affected product ids are reported lower-case.
"""

from __future__ import annotations

import datetime

from django.db import models

# Computation states.
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
# Chunk states: a running chunk is held by one worker while its heartbeat is fresh (its lease).
CHUNK_PENDING, CHUNK_RUNNING, CHUNK_DONE, CHUNK_FAILED = "pending", "running", "done", "failed"


class Dataset(models.Model):
    """One exposure's matching parameters, as the archive would give them to bestrefs."""

    dataset_id = models.CharField(max_length=128, unique=True)  # PRODUCT:EXPOSURE, upper-case
    instrument = models.CharField(max_length=32, db_index=True)  # lower-case
    date = models.CharField(max_length=19, db_index=True)  # "YYYY-MM-DD HH:MM:SS" from DATE-OBS/TIME-OBS
    parameters = models.JSONField(default=dict)

    class Meta:
        # Covers the planning query (ids of an instrument since a date) without reading the rows.
        indexes = [models.Index(fields=["instrument", "date", "dataset_id"], name="reprocessing_dataset_plan")]

    def __str__(self) -> str:
        return self.dataset_id


class Computation(models.Model):
    """One context-to-context affected-datasets computation."""

    observatory = models.CharField(max_length=16)
    old_context = models.CharField(max_length=128)
    new_context = models.CharField(max_length=128)
    state = models.CharField(max_length=16, default=PENDING, db_index=True)
    status = models.IntegerField(null=True, blank=True)  # bestrefs-style: 0 OK, 1 ERRORS, 2 FAILED
    created = models.DateTimeField(default=datetime.datetime.now)
    finished = models.DateTimeField(null=True, blank=True)
    directory = models.CharField(max_length=64, blank=True, default="")  # <YYYY-MM-DD-HH:MM:SS>_<old>_<new>
    # {instrument: [types]} from the context difference, and {instrument: since-date}.
    affected_types = models.JSONField(default=dict)
    since = models.JSONField(default=dict)
    total_datasets = models.IntegerField(default=0)
    total_chunks = models.IntegerField(default=0)
    affected_count = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0)
    counts = models.JSONField(default=dict)  # {instrument: {type: exposures updated}}
    message = models.TextField(blank=True, default="")
    channel = models.CharField(max_length=36, blank=True, default="")  # jpoll key of its progress messages
    dispatched = models.DateTimeField(null=True, blank=True)  # when work was last handed to the workers

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.old_context} --> {self.new_context} ({self.state})"

    @property
    def status_word(self) -> str:
        return {0: "OK", 1: "ERRORS", None: ""}.get(self.status, "FAILED")

    @property
    def chunks_done(self) -> int:
        return self.chunks.filter(state=CHUNK_DONE).count()


class Chunk(models.Model):
    """A slice of one computation's datasets: the unit a Celery worker executes."""

    computation = models.ForeignKey(Computation, on_delete=models.CASCADE, related_name="chunks")
    index = models.IntegerField()
    dataset_ids = models.JSONField(default=list)
    state = models.CharField(max_length=16, default=CHUNK_PENDING)
    attempts = models.IntegerField(default=0)
    processed = models.IntegerField(default=0)
    affected = models.JSONField(default=list)  # affected dataset ids (compound, upper-case)
    updates = models.JSONField(default=dict)  # {instrument: {type: count}}
    errors = models.IntegerField(default=0)
    log = models.TextField(blank=True, default="")
    worker = models.CharField(max_length=128, blank=True, default="")
    task = models.CharField(max_length=64, blank=True, default="")  # id of the Celery task that claimed it
    started = models.DateTimeField(null=True, blank=True)  # when the current (or last) holder claimed it
    heartbeat = models.DateTimeField(null=True, blank=True)  # the holder's last sign of life
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["computation", "index"], name="unique_chunk_index")]

    def __str__(self) -> str:
        return f"{self.computation_id}/{self.index} {self.state}"
