"""Catalog metadata read from a reference file's header (server-behaviour.md §2.1).

The header itself is read by the crds library (FITS via astropy, ASDF via asdf,
GEIS via its .rNh header file); this module only picks the catalog fields out
of it, taking the first keyword present for each field.
"""

from __future__ import annotations

import datetime
import logging
import warnings
from pathlib import Path

from crds import data_file
from crds.core import timestamp

log = logging.getLogger(__name__)

# Catalog field -> header keywords, in order of preference.
FIELD_KEYWORDS: dict[str, tuple[str, ...]] = {
    "pedigree": ("PEDIGREE", "META.PEDIGREE"),
    "useafter": ("USEAFTER", "META.USEAFTER"),
    "reference_file_type": ("REFTYPE", "META.REFTYPE"),
    "comment": ("DESCRIP", "DESCRIPTION", "META.DESCRIPTION"),
    "aperture": ("APERTURE", "META.APERTURE.NAME", "APERNAME"),
    "history": ("HISTORY", "META.HISTORY"),
}

# Column widths of the catalog (models.FileRecord) for the bounded fields.
FIELD_WIDTHS = {"pedigree": 80, "reference_file_type": 80, "aperture": 80}

UNDEFINED = ("", "UNDEFINED", "N/A", "NONE")


def header_path(path: Path) -> Path:
    """GEIS data files (*.rNd) keep their header in the matching *.rNh file."""
    name = path.name
    if len(name) > 3 and name[-3] == "r" and name[-2].isdigit() and name[-1] == "d":
        return path.with_name(name[:-1] + "h")
    return path


def read_header(path: Path, observatory: str) -> dict[str, str]:
    """The unconditioned header of a reference file, as the crds library reads it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dict(data_file.get_free_header(str(header_path(path)), (), None, observatory))


def first_present(header: dict[str, str], keywords: tuple[str, ...]) -> str | None:
    for keyword in keywords:
        value = header.get(keyword)
        if value is not None and str(value).strip().upper() not in UNDEFINED:
            return str(value).strip()
    return None


def parse_useafter(value: str) -> datetime.datetime | None:
    """A USEAFTER value as a datetime, or None if the crds date parser rejects it."""
    try:
        return timestamp.parse_date(value)
    except Exception:
        return None


def catalog_fields(header: dict[str, str]) -> dict[str, object]:
    """The FileRecord fields a header provides; fields not in the header are left out."""
    fields: dict[str, object] = {}
    for field, keywords in FIELD_KEYWORDS.items():
        value = first_present(header, keywords)
        if value is None:
            continue
        if field == "useafter":
            when = parse_useafter(value)
            if when is None:
                log.error("Unreadable USEAFTER %r", value)
            else:
                fields["useafter_date"] = when
            continue
        width = FIELD_WIDTHS.get(field)
        fields[field] = value[:width] if width else value
    return fields


def reference_metadata(path: Path, observatory: str) -> dict[str, object]:
    """Catalog fields from the header of the reference at `path`; {} if it cannot be read.

    A header that cannot be read leaves every field at its default and logs an
    error, as the original did (server-behaviour.md §2.1).
    """
    try:
        header = read_header(path, observatory)
    except Exception as exc:
        log.error("Cannot read the header of %s: %s", path.name, exc)
        return {}
    return catalog_fields(header)
