"""Catalog queries and the audit log: the public surface other modules use.

File records are created by the importer and the submission pipeline; this
module answers questions about them in the forms the web pages and the
JSON-RPC services need.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import QuerySet

from interactive.models import INACTIVE_STATES, AuditAction, FileRecord

# Columns never shown to clients (server-behaviour.md §2.1).
PRIVATE_FIELDS = ("deliverer_email", "catalog_link", "present", "uploaded_sha1sum")


class UnknownFile(LookupError):
    """A name that is not cataloged."""


def get_record(name: str) -> FileRecord:
    try:
        return FileRecord.objects.get(name=name)
    except FileRecord.DoesNotExist:
        raise UnknownFile(f"File '{name}' is not known to CRDS.") from None


def distributable() -> QuerySet[FileRecord]:
    """Records in the site's distribution states: what clients may see and fetch."""
    return FileRecord.objects.filter(state__in=settings.CRDS_DISTRIBUTION_STATES)


def cataloged() -> QuerySet[FileRecord]:
    """Every record except pending uploads and cancelled declarations."""
    return FileRecord.objects.exclude(state__in=INACTIVE_STATES)


def file_info(record: FileRecord, fields: list[str] | None = None) -> dict[str, str]:
    """A record as the client sees it: lower-case keys, lower-case string values."""
    names = fields or [f.name for f in FileRecord._meta.fields if f.name not in PRIVATE_FIELDS + ("id",)]
    info = {}
    for name in names:
        if name in PRIVATE_FIELDS or name == "id":
            continue
        value = getattr(record, name, None)
        if isinstance(value, datetime.datetime):
            value = value.strftime("%Y-%m-%d %H:%M:%S")
        info[name.lower()] = str(value).lower()
    return info


def audit(action: str, filename: str, user: str, why: str = "", details: str = "",
          instrument: str = "", filekind: str = "") -> AuditAction:
    """Append a row to the audit log."""
    return AuditAction.objects.create(
        action=action, filename=filename, user=user or "unknown", why=why, details=details,
        observatory=settings.CRDS_OBSERVATORY, instrument=instrument, filekind=filekind,
    )
