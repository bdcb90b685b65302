"""Loading the dataset catalog from files: CSV, JSON lines and FITS primary headers.

A load is all or nothing: every row is checked first, and if any row is bad
the errors are reported (file and line) and nothing is written.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import transaction

from reprocessing.models import Dataset
from reprocessing.sources import BadDatasetId, normalize_id

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
TIME_RE = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d+)?\Z")
KEY_RE = re.compile(r"^[A-Za-z0-9_\-.]{1,256}\Z")
MAX_REPORTED = 20


class LoadError(ValueError):
    """One or more rows of a dataset file are unusable; nothing was loaded."""


def instruments() -> set[str]:
    from crds.core import utils

    return {i.lower() for i in utils.get_observatory_package(settings.CRDS_OBSERVATORY).INSTRUMENTS}


def make_dataset(dataset_id: str, header: dict, known: set[str] | None = None) -> Dataset:
    """A checked, unsaved Dataset for `dataset_id` and `header`; ValueError says what is wrong."""
    try:
        ident = normalize_id(dataset_id)
    except BadDatasetId as exc:
        raise ValueError(str(exc)) from exc
    if ":" not in ident:
        ident = f"{ident}:{ident}"
    if not isinstance(header, dict) or not header:
        raise ValueError(f"dataset {ident}: the header must be a non-empty object of KEYWORD: value.")
    clean = {}
    for key, value in header.items():
        if not KEY_RE.match(str(key)):
            raise ValueError(f"dataset {ident}: invalid keyword {str(key)[:60]!r}.")
        if isinstance(value, (dict, list)):
            raise ValueError(f"dataset {ident}: keyword {key} must have a plain value, not {type(value).__name__}.")
        clean[str(key).upper()] = "UNDEFINED" if value is None else str(value).strip()
    instrument = clean.get("INSTRUME", "").lower()
    known = known if known is not None else instruments()
    if instrument not in known:
        raise ValueError(f"dataset {ident}: INSTRUME {clean.get('INSTRUME', '')!r} is not a "
                         f"{settings.CRDS_OBSERVATORY} instrument ({', '.join(sorted(known))}).")
    date, time = clean.get("DATE-OBS", ""), clean.get("TIME-OBS", "")
    if not DATE_RE.match(date) or not TIME_RE.match(time):
        raise ValueError(f"dataset {ident}: DATE-OBS {date!r} and TIME-OBS {time!r} must be "
                         "YYYY-MM-DD and HH:MM:SS.")
    return Dataset(dataset_id=ident, instrument=instrument, date=f"{date} {time[:8]}", parameters=clean)


def read_csv(path: Path) -> Iterator[tuple[int, str, dict]]:
    """Rows of a CSV file whose first column is the dataset id and whose others are keywords."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        columns = next(reader, None)
        if not columns or columns[0].strip().lower() not in ("dataset_id", "id", "dataset"):
            raise LoadError(f"{path.name}: the first line must name the columns, starting with 'dataset_id'.")
        keys = [c.strip() for c in columns[1:]]
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(columns):
                yield number, "", {"__error__": f"has {len(row)} fields where the header line has {len(columns)}"}
                continue
            yield number, row[0], dict(zip(keys, row[1:], strict=True))


def read_jsonl(path: Path) -> Iterator[tuple[int, str, dict]]:
    """Lines of `{"id": ..., "header": {...}}` or `{"<id>": {...}}` (crds bestrefs --save-pickle .json)."""
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, "", {"__error__": f"is not JSON ({exc.msg})"}
                continue
            except (ValueError, RecursionError):  # a number int() refuses; nesting beyond the parser
                yield number, "", {"__error__": "is not JSON that can be read (a number too long or nesting too deep)"}
                continue
            if isinstance(item, dict) and "header" in item and ("id" in item or "dataset_id" in item):
                yield number, str(item.get("id", item.get("dataset_id"))), item["header"]
            elif isinstance(item, dict) and len(item) == 1:
                (ident, header), = item.items()
                yield number, ident, header
            else:
                yield number, "", {"__error__": 'must be {"id": ..., "header": {...}} or {"<id>": {...}}'}


def read_fits(path: Path) -> Iterator[tuple[int, str, dict]]:
    """One dataset per FITS file: its primary header; the id is ASN_ID:ROOTNAME (or ROOTNAME:ROOTNAME)."""
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdus:
            primary = hdus[0].header
            header = {k: v for k, v in primary.items() if k and k not in ("COMMENT", "HISTORY", "")}
    except Exception as exc:
        yield 0, "", {"__error__": f"is not a readable FITS file ({exc.__class__.__name__})"}
        return
    root = str(header.get("ROOTNAME", "")).strip()
    product = str(header.get("ASN_ID", "")).strip()
    if not product or product.upper() == "NONE":
        product = root
    yield 0, f"{product}:{root}" if root else "", {k: v for k, v in header.items()
                                                    if isinstance(v, (str, int, float, bool))}


READERS = {".csv": read_csv, ".jsonl": read_jsonl, ".json": read_jsonl, ".fits": read_fits, ".fit": read_fits}


def read_files(paths: Iterable[Path]) -> tuple[list[Dataset], list[str]]:
    """Parse and check `paths`; returns (datasets, error messages)."""
    known = instruments()
    datasets: dict[str, Dataset] = {}
    errors: list[str] = []
    for path in paths:
        path = Path(path)
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            errors.append(f"{path.name}: unknown kind of file; use .csv, .jsonl/.json or .fits.")
            continue
        try:
            for number, ident, header in reader(path):
                where = f"{path.name}" + (f" line {number}" if number else "")
                if "__error__" in header:
                    errors.append(f"{where}: {header['__error__']}.")
                    continue
                try:
                    dataset = make_dataset(ident, header, known)
                except ValueError as exc:
                    errors.append(f"{where}: {exc}")
                    continue
                if dataset.dataset_id in datasets:
                    errors.append(f"{where}: dataset {dataset.dataset_id} appears twice.")
                datasets[dataset.dataset_id] = dataset
        except LoadError as exc:
            errors.append(str(exc))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            errors.append(f"{path.name}: cannot be read ({exc.__class__.__name__}: {exc}).")
    return list(datasets.values()), errors


@transaction.atomic
def store(datasets: list[Dataset], batch_size: int = 5000) -> int:
    """Insert `datasets`, replacing any with the same ids, in one transaction."""
    ids = [d.dataset_id for d in datasets]
    for start in range(0, len(ids), 900):
        Dataset.objects.filter(dataset_id__in=ids[start:start + 900]).delete()
    Dataset.objects.bulk_create(datasets, batch_size=batch_size)
    return len(datasets)


def load_files(paths: Iterable[Path]) -> int:
    """Load every dataset of `paths`, or none: LoadError lists the bad rows."""
    datasets, errors = read_files(paths)
    if errors:
        shown = errors[:MAX_REPORTED]
        more = f"\n... and {len(errors) - MAX_REPORTED} more" if len(errors) > MAX_REPORTED else ""
        raise LoadError(f"{len(errors)} bad row(s); nothing was loaded:\n" + "\n".join(shown) + more)
    return store(datasets)
