"""Where dataset matching parameters come from.

The archive's parameters are read through a *dataset source*: by default the
server's own dataset catalog (reprocessing.models.Dataset).  A site that keeps
parameters elsewhere (an archive database, a parameter service) names its own
class with the same surface in settings.CRDS_DATASET_SOURCE, by dotted path.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

from reprocessing.models import Dataset

MIN_DATE = "1900-01-01 00:00:00"
ID_PART_RE = re.compile(r"^[A-Za-z0-9_.+\-]{1,64}\Z")


class BadDatasetId(ValueError):
    """A dataset id that is not `<product>` or `<product>:<exposure>`."""


def normalize_id(dataset_id: str) -> str:
    """Upper-case `dataset_id` and check its form; one-part ids are kept one-part."""
    if not isinstance(dataset_id, str):
        raise BadDatasetId(f"Dataset id {dataset_id!r} is not a string.")
    parts = dataset_id.strip().upper().split(":")
    if len(parts) > 2 or not all(ID_PART_RE.match(p) for p in parts):
        raise BadDatasetId(f"Invalid dataset id {dataset_id[:140]!r}: use <product>:<exposure> "
                           "with letters, digits, '_', '.', '+' and '-' only.")
    return ":".join(parts)


def normalize_since(datasets_since: str | None) -> str:
    """`YYYY-MM-DD[THH:MM:SS]` or null → "YYYY-MM-DD HH:MM:SS" (null means 1900-01-01)."""
    if datasets_since in (None, "", "null", "none", "None"):
        return MIN_DATE
    text = str(datasets_since).replace("T", " ").strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}\Z", text):
        text += " 00:00:00"
    if not re.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?\Z", text):
        raise ValueError(f"Invalid datasets_since {str(datasets_since)[:60]!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS.")
    return text[:19]


class DatasetSource:
    """The surface a dataset source provides (all ids upper-case compound ids)."""

    def dataset_ids(self, instrument: str, since: str = MIN_DATE) -> list[str]:
        """Sorted `<PRODUCT>:<EXPOSURE>` ids of `instrument` observed at or after `since`."""
        raise NotImplementedError

    def headers(self, ids: list[str], since: str = MIN_DATE) -> dict[str, dict | str]:
        """{compound id: header} for `ids`; either half of a compound id selects it.

        An id with no dataset maps to an error string, as the archive's service does, under its
        two-part form (a bare X as X:X).
        """
        raise NotImplementedError

    def instrument_counts(self) -> dict[str, int]:
        raise NotImplementedError


class DatabaseSource(DatasetSource):
    """Datasets from this server's catalog (loaded by `manage.py load_datasets`)."""

    def dataset_ids(self, instrument: str, since: str = MIN_DATE) -> list[str]:
        rows = Dataset.objects.filter(instrument=instrument.lower(), date__gte=since)
        return sorted(rows.values_list("dataset_id", flat=True))

    def headers(self, ids: list[str], since: str = MIN_DATE) -> dict[str, dict | str]:
        wanted = [normalize_id(i) for i in ids]
        compound = [i for i in wanted if ":" in i]
        single = [i for i in wanted if ":" not in i]
        found: dict[str, dict | str] = {}
        # As few queries as the database allows (a chunk's worth is one on MariaDB), without model objects.
        limit = connection.features.max_query_params  # less one for the date
        batch = limit - 1 if limit else max(len(compound), 1)
        for start in range(0, len(compound), batch):
            rows = Dataset.objects.filter(dataset_id__in=compound[start:start + batch], date__gte=since)
            found.update(rows.values_list("dataset_id", "parameters"))
        for part in single:  # either half of a compound id is accepted
            rows = (Dataset.objects.filter(dataset_id__startswith=part + ":", date__gte=since)
                    | Dataset.objects.filter(dataset_id__endswith=":" + part, date__gte=since))
            matched = list(rows)
            for row in matched:
                found[row.dataset_id] = row.parameters
            if not matched:  # keyed as an unassociated id: the crds client splits every key at ':'
                found[f"{part}:{part}"] = f"NOT FOUND dataset {part!r} is not in the dataset catalog"
        for ident in compound:
            found.setdefault(ident, f"NOT FOUND dataset {ident!r} is not in the dataset catalog")
        return found

    def instrument_counts(self) -> dict[str, int]:
        from django.db.models import Count

        return {r["instrument"]: r["n"] for r in Dataset.objects.values("instrument").annotate(n=Count("id"))}


def get_source() -> DatasetSource:
    """The configured dataset source (settings.CRDS_DATASET_SOURCE)."""
    return import_string(settings.CRDS_DATASET_SOURCE)()
