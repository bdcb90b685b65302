"""Official names for submitted files and serial numbers for deliveries (server-behaviour.md §5.8).

Serials come from `Counter` rows incremented under a row lock, so concurrent
submissions never draw the same number.  A counter only goes up: numbers
spent on cancelled or failed submissions are not reused, and it is raised to
the highest serial of the regular sequence present in the catalog or the
file cache.  New
names always satisfy the crds library's name patterns (four-digit serials);
a test-named file such as `hst_acs_9999.imap` does not push a counter out of
that range.
"""

from __future__ import annotations

import datetime
import logging
import re
from pathlib import Path

from crds.core import config as crds_config
from crds.core import utils as crds_utils
from django.conf import settings
from django.db import IntegrityError, transaction

from interactive import storage
from interactive.models import Counter, FileRecord

log = logging.getLogger(__name__)

MAX_SERIAL = 9999  # the crds name patterns allow exactly four digits
MAX_GAP = 500  # HST families jumped from _0001 to _0250 once; test names sit at _9998, _9999
# HST CDBS-style names carry a timestamp with 2-second resolution.
UNIQNAME_SLOT = datetime.timedelta(seconds=2)
UNIQNAME_EPOCH = datetime.datetime(2000, 1, 1)
UNIQNAME_COUNTER = "uniqname_slot"


class NamingError(Exception):
    """No acceptable official name can be made; the message says why."""


def next_serial(counter_name: str, at_least: int = 0) -> int:
    """Increment counter `counter_name` atomically (kept above `at_least`) and return the new value."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                row = Counter.objects.select_for_update().filter(name=counter_name).first()
                if row is None:
                    row = Counter.objects.create(name=counter_name, counter=0)
                row.counter = max(row.counter, at_least) + 1
                row.save(update_fields=["counter"])
                return row.counter
        except IntegrityError:  # two first uses created the row at once; the loser retries
            continue
    raise NamingError(f"Cannot allocate a serial number from counter '{counter_name}'.")


def delivery_id() -> int:
    """The next delivery catalog number (counter `<obs>_delivery_id`)."""
    return next_serial(f"{settings.CRDS_OBSERVATORY}_delivery_id")


def crds_name(instrument: str, filekind: str, extension: str, serial: int) -> str:
    """`<obs>_<instr>_<filekind>_<NNNN><ext>`, omitting empty parts (imaps and pmaps)."""
    parts = [settings.CRDS_OBSERVATORY, instrument, filekind, f"{serial:04d}"]
    return "_".join(p for p in parts if p) + extension


def existing_serials(instrument: str, filekind: str, extension: str) -> list[int]:
    """Serials of names of this family in the catalog or the file cache."""
    stem = "_".join(p for p in (settings.CRDS_OBSERVATORY, instrument, filekind) if p)
    pattern = re.compile(rf"^{re.escape(stem)}_(\d+){re.escape(extension)}$")
    names = set(FileRecord.objects.filter(name__startswith=stem + "_").values_list("name", flat=True))
    directory = storage.mappings_dir() if storage.is_mapping("x" + extension) else storage.references_dir()
    if directory.is_dir():
        names.update(p.name for p in directory.glob(f"{stem}_*{extension}"))
    return sorted(int(m.group(1)) for m in map(pattern.match, names) if m)


def serial_floor(serials: list[int]) -> int:
    """The highest serial of a family's regular sequence, which the counter must stay above.

    A jump of more than MAX_GAP marks the start of test or placeholder names
    (`_9998`, `_9999` ...): those are skipped when drawn, but do not push the
    counter to the end of the four-digit range.
    """
    floor = 0
    for serial in sorted(set(serials)):
        if floor and serial - floor > MAX_GAP:
            break
        floor = serial
    return min(floor, MAX_SERIAL)


def is_taken(name: str) -> bool:
    """True if `name` is cataloged (in any state) or present in the file cache."""
    return FileRecord.objects.filter(name=name).exists() or storage.cache_path(name).exists()


def new_crds_name(instrument: str, filekind: str, extension: str) -> str:
    """The next free CRDS-style name for this (instrument, filekind, extension).

    The counter is raised to the highest serial of the family's regular
    sequence (serial_floor); serials taken by other files are skipped (and spent).
    """
    counter_name = "_".join([settings.CRDS_OBSERVATORY, instrument, filekind, extension])
    serials = existing_serials(instrument, filekind, extension)
    floor = serial_floor(serials)
    while True:
        serial = next_serial(counter_name, at_least=floor)
        if serial > MAX_SERIAL:
            raise NamingError(f"No four-digit serial is left for new '{extension}' files of "
                              f"{instrument or 'the pipeline'} {filekind}: counter '{counter_name}' is exhausted.")
        name = crds_name(instrument, filekind, extension, serial)
        if not crds_config.is_valid_reference_name(name) and not crds_config.is_valid_mapping_name(name):
            raise NamingError(f"Cannot make a valid CRDS name for instrument {instrument!r}, type {filekind!r}.")
        if is_taken(name):
            log.info("New name %s is already taken; drawing the next serial.", name)
            floor = serial
            continue
        newest = max(serials) if serials else None
        if newest is not None and newest > serial:
            log.warning("Existing %s looks newer than new name %s.", crds_name(instrument, filekind, extension, newest),
                        name)
        return name


def new_mapping_name(old_mapping: str) -> str:
    """A new official name for the successor of mapping `old_mapping` (rmap, imap or pmap)."""
    instrument, filekind = mapping_properties(old_mapping)
    return new_crds_name(instrument, filekind, Path(old_mapping).suffix)


def mapping_properties(mapping: str) -> tuple[str, str]:
    """(instrument, filekind) of a mapping name: both empty for pmaps, filekind empty for imaps."""
    if mapping.endswith(".pmap"):
        return "", ""
    instrument, filekind = crds_utils.get_file_properties(settings.CRDS_OBSERVATORY, mapping)
    return instrument, ("" if mapping.endswith(".imap") else filekind)


def _slot_time(slot: int) -> datetime.datetime:
    return UNIQNAME_EPOCH + slot * UNIQNAME_SLOT


def new_hst_reference_name(instrument: str, filekind: str, extension: str,
                           now: datetime.datetime | None = None) -> str:
    """A unique time-based CDBS-style name (as `crds uniqname` makes them) for an HST reference.

    Each name takes its own 2-second time slot from a counter, so no request
    has to sleep for uniqueness and two submissions never share a slot.
    """
    from crds.hst import locate as hst_locate

    now = now or datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    current = int((now - UNIQNAME_EPOCH) / UNIQNAME_SLOT)
    at_least = current - 1
    while True:
        slot = next_serial(UNIQNAME_COUNTER, at_least=at_least)
        try:
            name = hst_locate.generate_unique_name_core(instrument, filekind, extension, now=_slot_time(slot))
        except Exception as exc:
            raise NamingError(f"Cannot make a CDBS-style name for {instrument} {filekind}: {exc}") from None
        if not crds_config.is_valid_reference_name(name):
            raise NamingError(f"Generated name {name!r} is not a valid reference name.")
        if not is_taken(name):
            return name
        at_least = slot

