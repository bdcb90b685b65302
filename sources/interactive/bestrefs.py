"""Best references for a dataset header, computed locally by the crds library.

The header comes from pasted keywords, an uploaded FITS file
(crds.data_file.get_header) or the explore menus, which are built from the
context's own rules (each instrument's matching parameters and the values its
rmaps use).  Every key and value is checked against a pattern first.
"""

from __future__ import annotations

import datetime
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from crds import data_file
from crds.core import heavy_client, rmap, utils
from django.core.files.uploadedfile import UploadedFile
from fileupload.ingest import max_upload_bytes

from interactive import catalog, contexts, storage
from interactive.instruments import instruments

KEY_RE = re.compile(r"^[A-Z][A-Z0-9_\-.]{0,63}\Z")
VALUE_RE = re.compile(r"^[A-Za-z0-9_.:+\-/ ,*|#()\[\]=]{0,128}\Z")
MAX_KEYS = 500
MAX_HEADER_TEXT = 200_000
DATE_KEYS = ("DATE-OBS", "TIME-OBS", "META.OBSERVATION.DATE", "META.OBSERVATION.TIME")


class HeaderError(ValueError):
    """Header text, a file or a parameter that cannot be used; the message says which."""


@dataclass
class Result:
    context: str
    instrument: str
    header: dict[str, str]  # the minimal matching parameters
    rows: list[tuple[str, str, str, bool]]  # (filekind, result, rmap, found)


def check_context(name: str) -> str:
    """A cataloged pmap held by the server."""
    storage.check_filename(name)
    if not name.endswith(".pmap"):
        raise HeaderError(f"'{name}' is not a pipeline context (.pmap).")
    record = catalog.get_record(name)
    if record.state in ("uploaded", "cancelled"):
        raise catalog.UnknownFile(f"File '{name}' is not known to CRDS.")
    if not storage.cache_path(name).exists():
        raise HeaderError(f"Context '{name}' is cataloged but not in the server's file cache.")
    return name


def context_choices() -> list[str]:
    """The pointer contexts first, then recent pmaps, for context menus."""
    pointed = [c for c in contexts.pointers().values() if c]
    recent = list(catalog.cataloged().filter(type="mapping", name__endswith=".pmap")
                  .order_by("-name").values_list("name", flat=True)[:50])
    return list(dict.fromkeys(pointed + recent))


def check_item(key: str, value: str) -> tuple[str, str]:
    key = str(key).strip().upper()
    value = str(value).strip().strip("'\"").strip()
    if not KEY_RE.match(key):
        raise HeaderError(f"Invalid header keyword {key[:70]!r}: use letters, digits, '_', '-' and '.'.")
    if not VALUE_RE.match(value):
        raise HeaderError(f"Invalid value for {key}: {value[:140]!r}.")
    return key, value


def parse_header_text(text: str) -> dict[str, str]:
    """Keywords pasted as `KEY = VALUE` lines (also `KEY: VALUE` or `KEY VALUE`) or as a JSON object."""
    if len(text) > MAX_HEADER_TEXT:
        raise HeaderError(f"Header text is longer than {MAX_HEADER_TEXT} characters.")
    text = text.strip()
    if not text:
        raise HeaderError("No header keywords given.")
    if text.startswith("{"):
        try:
            items = json.loads(text).items()
        except (ValueError, AttributeError, RecursionError):
            raise HeaderError("The header looks like JSON but does not parse as a JSON object.") from None
    else:
        items = []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.split(" / ", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            match = re.match(r"^([^=:\s]+)\s*(?:=|:|\s)\s*(.*)$", line)
            if not match:
                raise HeaderError(f"Line {number} is not 'KEYWORD = value': {line[:80]!r}.")
            items.append((match.group(1), match.group(2)))
    header = dict(check_item(k, v) for k, v in items)
    if len(header) > MAX_KEYS:
        raise HeaderError(f"More than {MAX_KEYS} keywords given.")
    return header


def header_from_upload(upload: UploadedFile) -> dict[str, str]:
    """The header of an uploaded FITS dataset; anything else is refused."""
    if not upload.name.lower().endswith(".fits"):
        raise HeaderError(f"'{upload.name[:80]}' is not a FITS file (.fits).")
    if upload.size > max_upload_bytes():
        raise HeaderError(f"'{upload.name[:80]}' is larger than the upload limit of {max_upload_bytes()} bytes.")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dataset.fits"
        with open(path, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        try:
            header = data_file.get_header(str(path))
        except Exception:
            raise HeaderError(f"'{upload.name[:80]}' could not be read as a FITS file.") from None
    if not header:
        raise HeaderError(f"'{upload.name[:80]}' has no header keywords.")
    return {str(k).upper(): str(v) for k, v in header.items() if KEY_RE.match(str(k).upper())}


def instrument_of(context: str, header: dict[str, str]) -> str:
    try:
        return rmap.get_cached_mapping(context).get_instrument(header)
    except Exception:
        raise HeaderError("The header does not name a known instrument (INSTRUME or "
                          "META.INSTRUMENT.NAME).") from None


def best_references(context: str, header: dict[str, str]) -> Result:
    """crds's best references for `header` under `context`, with the rmaps consulted."""
    check_context(context)
    instrument = instrument_of(context, header)
    pmap = rmap.get_cached_mapping(context)
    conditioned = utils.condition_header(header)
    minimal = pmap.minimize_header(conditioned)
    refs = heavy_client.hv_best_references(context, header)
    imap = pmap.get_imap(instrument)
    rows = []
    for filekind in sorted(refs):
        result = str(refs[filekind])
        selected = imap.selections.get(filekind)
        rmap_name = getattr(selected, "basename", "")
        found = not result.upper().startswith(("NOT FOUND", "N/A")) and "." in result
        rows.append((filekind, result, rmap_name, found))
    return Result(context=context, instrument=instrument, header=dict(sorted(minimal.items())), rows=rows)


def explore_menus(context: str, instrument: str) -> list[tuple[str, list[str]]]:
    """(parameter, values used by the rules) for each matching parameter of an instrument."""
    check_context(context)
    if instrument not in instruments():
        raise HeaderError(f"Unknown instrument '{instrument[:40]}': use one of {', '.join(instruments())}.")
    pmap = rmap.get_cached_mapping(context)
    if instrument not in pmap.selections:
        raise HeaderError(f"Context '{context}' has no rules for instrument '{instrument}'.")
    parkeys = pmap.get_imap(instrument).get_parkey_map()
    menus = []
    for key in sorted(parkeys):
        if key in DATE_KEYS:
            continue
        values = sorted({str(v) for v in parkeys[key]} - {"*", "N/A", "ANY"})
        menus.append((key, values))
    return menus


def explore_header(context: str, instrument: str, params: dict[str, str], date: str, time: str) -> dict[str, str]:
    """A dataset header from the explore form, each value checked against the menus."""
    menus = dict(explore_menus(context, instrument))
    pmap = rmap.get_cached_mapping(context)
    header = {pmap.instrument_key.upper(): instrument.upper()}
    for key, value in params.items():
        if key not in menus:
            raise HeaderError(f"'{key[:70]}' is not a matching parameter of {instrument}.")
        if value in ("", "UNDEFINED"):
            continue
        if value not in menus[key]:
            raise HeaderError(f"{value[:70]!r} is not a value the rules use for {key}.")
        header[key] = value
    try:
        datetime.datetime.strptime(f"{date} {time}", "%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        raise HeaderError(f"Invalid date and time {str(date)[:20]!r} {str(time)[:20]!r}: "
                          "use YYYY-MM-DD and HH:MM:SS.") from None
    date_key, time_key = DATE_KEYS[:2] if pmap.observatory == "hst" else DATE_KEYS[2:]
    header[date_key], header[time_key] = date, time
    return header
