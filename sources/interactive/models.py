"""The catalog: file records, audit log, context pointers and history, counters.

Only data and small derived properties live here.  Behaviour (import, states,
contexts, submissions, delivery) lives in the service modules of this app,
which views, JSON-RPC methods, management commands and tasks all call.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models

ACTIVATION_PLACEHOLDER = datetime.datetime(2050, 1, 1)
USEAFTER_PLACEHOLDER = datetime.datetime(1900, 1, 1)

# File states (server-behaviour.md §3.1).  "operational" is the 2019 name of "latest".
UPLOADED, DELIVERED, SUBMITTED, ARCHIVING = "uploaded", "delivered", "submitted", "archiving"
ARCHIVING_FAILED, ARCHIVED, LATEST, CANCELLED = "archiving-failed", "archived", "latest", "cancelled"
FILE_STATES = (UPLOADED, DELIVERED, SUBMITTED, ARCHIVING, ARCHIVING_FAILED, ARCHIVED, LATEST, CANCELLED)
TRANSITORY_STATES = (DELIVERED, SUBMITTED, ARCHIVING, ARCHIVING_FAILED)
ACTIVE_STATES = (ARCHIVED, LATEST)
USABLE_STATES = ACTIVE_STATES + TRANSITORY_STATES
INACTIVE_STATES = (UPLOADED, CANCELLED)

CHANGE_LEVELS = ("SEVERE", "MODERATE", "TRIVIAL")

# Context pointer kinds (server-behaviour.md §4.1).
CONTEXT_KINDS = ("latest", "edit", "versions", "build")


class FileRecord(models.Model):
    """One row per file ever cataloged, mapping or reference (server-behaviour.md §2.1)."""

    name = models.CharField(max_length=128, unique=True)
    state = models.CharField(max_length=32, default=DELIVERED, choices=[(s, s) for s in FILE_STATES])
    blacklisted = models.BooleanField(default=False)
    rejected = models.BooleanField(default=False)
    observatory = models.CharField(max_length=16)
    instrument = models.CharField(max_length=32, blank=True, default="")
    filekind = models.CharField(max_length=64, blank=True, default="")
    type = models.CharField(max_length=16, choices=[("reference", "reference"), ("mapping", "mapping")])
    derived_from = models.CharField(max_length=128, default="none")
    sha1sum = models.CharField(max_length=40, default="none")
    delivery_date = models.DateTimeField(default=datetime.datetime.now)
    activation_date = models.DateTimeField(default=ACTIVATION_PLACEHOLDER)
    useafter_date = models.DateTimeField(default=USEAFTER_PLACEHOLDER)
    change_level = models.CharField(max_length=16, default="SEVERE")
    pedigree = models.CharField(max_length=80, blank=True, default="")
    reference_file_type = models.CharField(max_length=80, blank=True, default="")
    size = models.BigIntegerField(default=-1)
    uploaded_as = models.CharField(max_length=128, blank=True, default="")
    # The submitted file's own sum, which differs from `sha1sum` when renaming rewrote the file.
    uploaded_sha1sum = models.CharField(max_length=40, blank=True, default="")
    creator_name = models.CharField(max_length=128, blank=True, default="")
    deliverer_user = models.CharField(max_length=80, blank=True, default="")
    deliverer_email = models.CharField(max_length=128, blank=True, default="")
    description = models.TextField(blank=True, default="")
    catalog_link = models.CharField(max_length=128, blank=True, default="")
    replaced_by_filename = models.CharField(max_length=128, blank=True, default="")
    comment = models.TextField(blank=True, default="none")
    aperture = models.CharField(max_length=80, default="none")
    history = models.TextField(blank=True, default="none")
    # Known from a cache's download_metadata but not held in this server's file cache.
    present = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["type", "state"]),
            models.Index(fields=["instrument", "filekind"]),
            models.Index(fields=["sha1sum"]),
            models.Index(fields=["uploaded_sha1sum"]),
            models.Index(fields=["delivery_date"]),
            models.Index(fields=["derived_from"]),
            models.Index(fields=["deliverer_user"]),
            # Browse Database sorts on these.
            models.Index(fields=["useafter_date", "id"]),
            models.Index(fields=["activation_date", "id"]),
            models.Index(fields=["size", "id"]),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_mapping(self) -> bool:
        return self.type == "mapping"

    @property
    def available(self) -> bool:
        """Distributable: in one of the site's distribution states and not pending.

        A transitory record is re-evaluated first (§2.1), storing `archived` once
        its delivery catalog has left the delivery area, so one file's answer
        never waits for the 5-minute update; bulk listings read the stored state.
        """
        from interactive import delivery  # delivery imports this module

        return delivery.refresh(self) in settings.CRDS_DISTRIBUTION_STATES


class AuditAction(models.Model):
    """The audit log behind Recent Activity and a file's Past Actions (§2.2)."""

    user = models.CharField(max_length=80)
    date = models.DateTimeField(default=datetime.datetime.now, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    filename = models.CharField(max_length=128, db_index=True)
    observatory = models.CharField(max_length=16)
    instrument = models.CharField(max_length=32, blank=True, default="")
    filekind = models.CharField(max_length=64, blank=True, default="")
    why = models.TextField(blank=True, default="")
    details = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return f"{self.date} {self.user} {self.action} {self.filename}"


class ContextPointer(models.Model):
    """One row per context kind: latest, edit, versions, build (§2.3, §4.1)."""

    kind = models.CharField(max_length=16, unique=True)
    context = models.CharField(max_length=128)

    def __str__(self) -> str:
        return f"{self.kind}: {self.context}"


class ContextHistory(models.Model):
    """A row appended whenever a context pointer changes (§4.2)."""

    start_date = models.DateTimeField(db_index=True)
    context = models.CharField(max_length=128)
    state = models.CharField(max_length=16, db_index=True)  # the pointer kind
    description = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-start_date", "-id"]

    def __str__(self) -> str:
        return f"{self.start_date} {self.state} {self.context}"


class Counter(models.Model):
    """Serial numbers for official names and delivery ids (§5.8)."""

    name = models.CharField(max_length=128, unique=True)
    counter = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.counter}"


class StoredResult(models.Model):
    """READY, confirmation and certify pages that can be shown again (§5.4)."""

    name = models.CharField(max_length=64, unique=True)  # UUID4
    page_template = models.CharField(max_length=128)
    parameters = models.JSONField(default=dict)
    user = models.CharField(max_length=80, blank=True, default="")
    requires_authentication = models.BooleanField(default=True)
    created = models.DateTimeField(default=datetime.datetime.now, db_index=True)

    def __str__(self) -> str:
        return self.name


class RemoteContext(models.Model):
    """Contexts echoed by pipelines and the server's own cache (§4.5)."""

    name = models.CharField(max_length=80, unique=True)
    observatory = models.CharField(max_length=16)
    kind = models.CharField(max_length=16, default="latest")
    key = models.CharField(max_length=64)
    context = models.CharField(max_length=128, blank=True, default="")
    updated = models.DateTimeField(default=datetime.datetime.now)

    def __str__(self) -> str:
        return f"{self.name}: {self.context}"


class BuildContext(models.Model):
    """Calibration software version (CAL_VER) and the context that goes with it."""

    cal_ver = models.CharField(max_length=64, unique=True)
    context = models.CharField(max_length=128)
    created = models.DateTimeField(default=datetime.datetime.now)

    def __str__(self) -> str:
        return f"{self.cal_ver}: {self.context}"


class RedcatSubmission(models.Model):
    """The answers of one extended (ReDCaT) submission form, for Submission History (§2.3)."""

    user = models.CharField(max_length=150)
    deliverer = models.CharField(max_length=128)
    instrument = models.CharField(max_length=32)
    file_type = models.CharField(max_length=256)
    change_level = models.CharField(max_length=16)
    description = models.TextField()
    answers = models.JSONField(default=dict)   # every field of the published form, by key
    result_name = models.CharField(max_length=64, blank=True, default="")  # the READY StoredResult
    created_date = models.DateTimeField(default=datetime.datetime.now, db_index=True)
    published_date = models.DateTimeField(null=True, blank=True)  # when the submission reached its result

    def __str__(self) -> str:
        return f"{self.instrument} {self.file_type} by {self.deliverer}"
