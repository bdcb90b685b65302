"""Delivery of confirmed files to the archive, and the archive status of delivered files (§6).

A delivery writes a numbered catalog (one file name per line) into the
permanent catalogs directory, then hard-links every file and, last, the
catalog into each delivery directory: the archive pipeline ignores a
delivery until its catalog appears.  The pipeline reports progress by
renaming the catalog (`_SUBMIT`, `_PROC`, `_ERROR` ...); statuses are read
from those names on demand and only the final `archived` is stored.
"""

from __future__ import annotations

import ast
import datetime
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from interactive import cache, catalog, naming, storage
from interactive.models import (
    ARCHIVED,
    ARCHIVING,
    ARCHIVING_FAILED,
    DELIVERED,
    SUBMITTED,
    TRANSITORY_STATES,
    UPLOADED,
    AuditAction,
    FileRecord,
)

log = logging.getLogger(__name__)

# Catalog name suffixes written by the archive pipeline, and the status each means (§6.3).
RENAME_STATUS = (
    ("_SUBMIT", SUBMITTED), ("_submit", SUBMITTED),
    ("_PROC", ARCHIVING), ("_proc", ARCHIVING),
    ("_ERROR", ARCHIVING_FAILED), ("_error", ARCHIVING_FAILED),
    ("_ERR", ARCHIVING_FAILED), ("_err", ARCHIVING_FAILED),
)


class DeliveryError(Exception):
    """A delivery could not be made; nothing of it is left in the delivery directories."""


def delivery_dirs() -> list[Path]:
    return list(settings.CRDS_DELIVERY_DIRS)


def catalog_name(delivery_id: int) -> str:
    """`opus_<id>_i.cat` for HST, `<obs>_<id>.cat` otherwise (§6.1)."""
    obs = settings.CRDS_OBSERVATORY
    return f"opus_{delivery_id}_i.cat" if obs == "hst" else f"{obs}_{delivery_id}.cat"


# ---------------------------------------------------------------------------- status

def area_visible(directory: Path) -> bool:
    """Whether `directory` shows the delivery area, so that a catalog missing from it means archived.

    It must exist, be readable and lie on the file system of the file cache:
    deliveries are hard links from the cache, so the real area always does,
    while an unmounted mount point (an empty directory) lies on its parent's.
    """
    try:
        return (directory.is_dir() and os.access(directory, os.R_OK | os.X_OK)
                and directory.stat().st_dev == Path(settings.CRDS_FILE_CACHE).stat().st_dev)
    except OSError:
        return False


def catalog_status(catalog_link: str, unknown: str = DELIVERED) -> str:
    """The archive status a catalog's presence (or renamed presence) in the delivery area means.

    Only the base name of `catalog_link` is used, re-rooted under this
    server's first delivery directory, so mirrored databases still work.
    A catalog is `archived` only when it is gone from a visible delivery
    area; while the area cannot be seen the answer is `unknown` (by default
    `delivered`, the status the server itself set), so nothing is stored.
    """
    if not catalog_link:
        return ARCHIVED
    base = os.path.basename(catalog_link)
    directory = delivery_dirs()[0]
    try:
        if (directory / base).exists():
            return DELIVERED
        for suffix, status in RENAME_STATUS:
            if (directory / (base + suffix)).exists():
                return status
    except OSError:
        return unknown
    return ARCHIVED if area_visible(directory) else unknown


def archive_status(record: FileRecord) -> str:
    """A transitory record's live status (its stored state while the delivery area cannot be seen)."""
    if record.state not in TRANSITORY_STATES:
        return record.state
    return catalog_status(record.catalog_link, unknown=record.state)


def refresh(record: FileRecord) -> str:
    """A record's live archive status, storing it when it has become `archived`."""
    status = archive_status(record)
    if status == ARCHIVED and record.state != ARCHIVED:
        FileRecord.objects.filter(pk=record.pk, state=record.state).update(state=ARCHIVED)
        record.state = ARCHIVED
        cache.invalidate_on_commit()
    return status


def update_delivery_status(strict: bool = False) -> int:
    """Store `archived` on every transitory record whose catalog has left the delivery area.

    Run every 5 minutes (host/update_delivery_status, Celery beat).  Returns
    the number of records changed.  Nothing is done while the server is
    offline for maintenance or the delivery area cannot be seen: a missing
    catalog then does not mean the archive has its files.  An area that cannot
    be seen is a warning, or with `strict` (the beat task, whose failures are
    mailed once by operations.alerts) a DeliveryError; cron would mail a
    failure every 5 minutes.
    """
    from operations import backup  # operations imports this app

    if backup.is_offline():
        log.info("update_delivery_status: server offline (%s exists): nothing done", backup.offline_flag())
        return 0
    area = delivery_dirs()[0]
    if not area_visible(area):
        problem = (f"delivery area {area} is missing, unreadable or not mounted (not on the file cache's "
                   "file system): archive status unknown, nothing done")
        if strict:
            raise DeliveryError(problem)
        log.warning("update_delivery_status: %s", problem)
        return 0
    links = (FileRecord.objects.filter(state__in=TRANSITORY_STATES)
             .values_list("catalog_link", flat=True).distinct())
    finished = [link for link in links if catalog_status(link) == ARCHIVED]
    if not finished:
        return 0
    with transaction.atomic():
        changed = (FileRecord.objects.filter(state__in=TRANSITORY_STATES, catalog_link__in=finished)
                   .update(state=ARCHIVED))
        cache.invalidate_on_commit()
    log.info("update_delivery_status: %d records archived from %d catalogs", changed, len(finished))
    return changed


# ---------------------------------------------------------------------------- delivery

@dataclass
class Delivery:
    """What one delivery made: its catalog and the links it placed."""

    catalog: str
    files: list[str]
    links: list[Path] = field(default_factory=list)

    @property
    def catalog_path(self) -> Path:
        return storage.catalogs_dir() / self.catalog

    def remove_links(self) -> None:
        """Remove every link this delivery placed; the permanent catalog stays (§16.10)."""
        for link in reversed(self.links):
            try:
                link.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                log.exception("Could not remove delivery link %s", link)
        self.links = []

    def undo(self) -> None:
        """Take back a delivery whose operation failed after it: links, delivered states, audit rows.

        The records return to `uploaded`, to be destroyed or delivered again by
        the caller; the permanent catalog stays, its number spent (§16.10).
        """
        self.remove_links()
        FileRecord.objects.filter(name__in=self.files).update(state=UPLOADED, catalog_link="")
        AuditAction.objects.filter(filename__in=[self.catalog, *self.files],
                                   details__startswith=repr([self.catalog])[:-1]).delete()


def write_catalog(files: list[str]) -> str:
    """Write a new numbered catalog listing `files` into the catalogs directory, read-only."""
    storage.catalogs_dir().mkdir(parents=True, exist_ok=True)
    while True:
        name = catalog_name(naming.delivery_id())
        path = storage.catalogs_dir() / name
        try:
            out = open(path, "x")  # a catalog name is never reused, even after a database restore
        except FileExistsError:
            log.warning("Delivery catalog %s already exists; taking the next delivery id.", name)
            continue
        with out:
            out.write("".join(f"{f}\n" for f in sorted(files)))
        path.chmod(0o444)
        return name


def require_delivery_dirs() -> None:
    """Refuse, rather than create, a missing delivery directory: it is the archive's area, usually
    a mount, and a directory made in its place would hold deliveries the archive never sees."""
    for directory in delivery_dirs():
        if not directory.is_dir():
            raise DeliveryError(f"Delivery failed: the delivery directory {directory} does not exist (is the "
                                "archive's delivery area mounted?); nothing was delivered.")


def link_delivery(delivery: Delivery) -> None:
    """Hard-link the files and then the catalog into every delivery directory, or undo and raise."""
    try:
        for directory in delivery_dirs():
            for name in sorted(delivery.files):
                target = directory / name
                os.link(storage.cache_path(name), target)
                delivery.links.append(target)
            target = directory / delivery.catalog
            os.link(delivery.catalog_path, target)
            delivery.links.append(target)
    except OSError as exc:
        delivery.remove_links()
        what = Path(exc.filename).name if exc.filename else "a file"
        raise DeliveryError(f"Delivery failed: cannot link {what} for {delivery.catalog}: "
                            f"{exc.strerror or exc}.") from None


def deliver(files: list[str], kind: str, description: str, user: str) -> Delivery:
    """Deliver cataloged `files` to the archive (§6.2); returns the delivery for the caller's undo.

    The records become `delivered` with `catalog_link` set, and the audit log
    gets one row for the catalog and one per file.  If anything fails, the
    links are removed and the records are unchanged; the permanent catalog
    stays, its number spent.
    """
    files = sorted(set(files))
    if not files:
        raise DeliveryError("Delivery failed: no files to deliver.")
    for name in files:
        if not storage.cache_path(name).is_file():
            raise DeliveryError(f"Delivery failed: '{name}' is not in the server's file cache.")
    require_delivery_dirs()
    delivery = Delivery(write_catalog(files), files)
    link_delivery(delivery)
    try:
        catalog_link = str(delivery_dirs()[0] / delivery.catalog)
        details = repr([delivery.catalog] + files)
        with transaction.atomic():
            records = {r.name: r for r in FileRecord.objects.select_for_update().filter(name__in=files)}
            missing = sorted(set(files) - set(records))
            if missing:
                raise DeliveryError(f"Delivery failed: {', '.join(missing)} not cataloged.")
            FileRecord.objects.filter(name__in=files).update(state=DELIVERED, catalog_link=catalog_link)
            catalog.audit(kind, delivery.catalog, user, why=description, details=details)
            for name in files:
                record = records[name]
                catalog.audit(kind, name, user, why=description, details=details,
                              instrument=record.instrument, filekind=record.filekind)
            cache.invalidate_on_commit()
    except BaseException:
        delivery.remove_links()
        raise
    return delivery


def redeliver(catalog: str) -> Delivery:
    """Rebuild a delivery from its permanent catalog and the cache (recovery after a failed archive)."""
    storage.check_filename(catalog)
    path = storage.catalogs_dir() / catalog
    if not catalog.endswith(".cat") or not path.is_file():
        raise DeliveryError(f"No delivery catalog '{catalog}' in the catalogs directory.")
    files = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    for name in files:
        storage.check_filename(name)
    require_delivery_dirs()
    for directory in delivery_dirs():
        for leftover in [directory / catalog] + [directory / (catalog + s) for s, _ in RENAME_STATUS]:
            leftover.unlink(missing_ok=True)
        for name in files:
            (directory / name).unlink(missing_ok=True)
    delivery = Delivery(catalog, files)
    link_delivery(delivery)
    with transaction.atomic():
        link = str(delivery_dirs()[0] / catalog)
        FileRecord.objects.filter(name__in=files, state__in=TRANSITORY_STATES).update(
            state=DELIVERED, catalog_link=link)
        cache.invalidate_on_commit()
    return delivery


# ---------------------------------------------------------------------------- listing

@dataclass
class DeliveryRow:
    date: datetime.datetime
    user: str
    kind: str
    status: str
    catalog: str
    description: str
    files: list[str]


def deliveries(since: datetime.datetime | None = None) -> list[DeliveryRow]:
    """One row per delivery catalog, newest first, with the derived status of its first file (§3.2)."""
    from interactive.filedetails import status as derived_status  # filedetails imports this module
    rows = AuditAction.objects.filter(filename__endswith=".cat").order_by("-date", "-id")
    if since is not None:
        rows = rows.filter(date__gte=since)
    result = []
    for row in rows:
        try:
            listed = ast.literal_eval(row.details) if row.details else []
        except (ValueError, SyntaxError):
            listed = []
        files = [str(f) for f in listed[1:]] if isinstance(listed, list) else []
        status = ARCHIVED
        if files:
            record = FileRecord.objects.filter(name=files[0]).first()
            status = derived_status(record) if record else "unknown"
        result.append(DeliveryRow(row.date, row.user, row.action, status, row.filename, row.why, files))
    return result
