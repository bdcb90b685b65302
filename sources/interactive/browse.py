"""Catalog search for Browse Database: filters, sorting and server-side paging.

Only one page of rows ever leaves the database (LIMIT/OFFSET over an ordering
that ends in a unique column, so pages never overlap or skip); the total count
of a filter is cached for the catalog generation.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import re
from dataclasses import asdict, dataclass, field

from django.db.models import Q, QuerySet

from interactive import cache, catalog, delivery
from interactive.models import FILE_STATES, INACTIVE_STATES, TRANSITORY_STATES, FileRecord

# Columns a browse table shows and may sort on; the key is the URL word.
COLUMNS = {
    "name": "name",
    "instrument": "instrument",
    "filekind": "filekind",
    "type": "type",
    "status": "state",
    "delivered": "delivery_date",
    "activated": "activation_date",
    "useafter": "useafter_date",
    "deliverer": "deliverer_user",
    "size": "size",
}
# Sorts that follow a composite index: (instrument, filekind) and (type, state).
TIES = {"instrument": ("instrument", "filekind", "id"), "type": ("type", "state", "id")}
DEFAULT_SORT = "-delivered"
PAGE_SIZES = (25, 50, 100, 200)
STATUSES = ("bad",) + tuple(s for s in FILE_STATES if s not in INACTIVE_STATES)
BAD_CHOICES = ("include", "exclude", "only")
EXTENSIONS = (".pmap", ".imap", ".rmap", ".fits", ".asdf", ".json", ".yaml", ".txt", ".r0h", ".r1h", ".r2h",
              ".r3h", ".r4h", ".r5h", ".r6h", ".r7h", ".r8h", ".r9h", ".r0d", ".r1d", ".r2d", ".r3d", ".r4d",
              ".r5d", ".r6d", ".r7d", ".r8d", ".r9d")
GLOB_RE = re.compile(r"^[A-Za-z0-9._\-*?]{1,128}\Z")
# catalog_link: the derived status of a transitory file is read from its delivery catalog (§3.2).
ROW_FIELDS = ("name", "instrument", "filekind", "type", "state", "rejected", "blacklisted", "delivery_date",
              "activation_date", "useafter_date", "deliverer_user", "size", "description", "catalog_link")


class BadQuery(ValueError):
    """A filter or sort a person can correct."""


@dataclass(frozen=True)
class Filters:
    instrument: str = ""
    filekind: str = ""
    extension: str = ""
    glob: str = ""
    deliverer: str = ""
    status: str = ""
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    bad: str = "include"


@dataclass
class Page:
    rows: list[FileRecord]
    number: int
    per_page: int
    count: int
    sort: str
    num_pages: int = field(init=False)

    def __post_init__(self) -> None:
        self.num_pages = max(1, math.ceil(self.count / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.count else 0

    @property
    def last_index(self) -> int:
        return min(self.number * self.per_page, self.count)


def glob_regex(glob: str) -> str:
    """An anchored regular expression for a file-name glob of `*` and `?`."""
    if not GLOB_RE.match(glob):
        raise BadQuery(f"Invalid file name pattern {glob[:140]!r}: use letters, digits, '._-' and the wildcards * ?.")
    parts = {"*": ".*", "?": "."}
    return "^" + "".join(parts.get(c, re.escape(c)) for c in glob) + "$"


def _name_filter(glob: str) -> Q:
    """The cheapest lookup for a glob: exact, prefix (index range) or regular expression."""
    if not any(c in glob for c in "*?"):
        return Q(name=glob)
    stem = glob.rstrip("*")
    if not any(c in stem for c in "*?"):
        return Q(name__startswith=stem)
    prefix = re.split(r"[*?]", glob, maxsplit=1)[0]
    q = Q(name__regex=glob_regex(glob))
    return Q(name__startswith=prefix) & q if prefix else q


def query(filters: Filters) -> QuerySet[FileRecord]:
    """Cataloged records matching `filters` (pending uploads never show)."""
    qs = catalog.cataloged()
    if filters.instrument:
        qs = qs.filter(instrument=filters.instrument)
    if filters.filekind:
        qs = qs.filter(filekind=filters.filekind)
    if filters.extension:
        qs = qs.filter(name__endswith=filters.extension)
    if filters.glob:
        glob_regex(filters.glob)
        qs = qs.filter(_name_filter(filters.glob))
    if filters.deliverer:
        qs = qs.filter(deliverer_user=filters.deliverer)
    if filters.date_from:
        qs = qs.filter(delivery_date__gte=datetime.datetime.combine(filters.date_from, datetime.time.min))
    if filters.date_to:
        qs = qs.filter(delivery_date__lt=datetime.datetime.combine(filters.date_to, datetime.time.min)
                       + datetime.timedelta(days=1))
    bad = Q(rejected=True) | Q(blacklisted=True)
    if filters.status == "bad" or filters.bad == "only":
        qs = qs.filter(bad)
    elif filters.bad == "exclude":
        qs = qs.exclude(bad)
    if filters.status and filters.status != "bad":
        qs = qs.filter(_status_is(filters.status)).exclude(bad)
    return qs


def pending_statuses() -> dict[str, str]:
    """{catalog_link: live archive status} of the deliveries of transitory records, one look each (§6.3)."""
    links = FileRecord.objects.filter(state__in=TRANSITORY_STATES).values_list("catalog_link", flat=True).distinct()
    return {link: delivery.catalog_status(link) for link in links}


def _status_is(status: str) -> Q:
    """Records whose derived status (§3.2) is `status`, for records that are not bad.

    A settled state is its own status; a transitory record shows the archive
    progress of its delivery, read per delivery catalog rather than per row.
    """
    links = [link for link, live in pending_statuses().items() if live == status]
    return (Q(state=status) & ~Q(state__in=TRANSITORY_STATES)) | Q(state__in=TRANSITORY_STATES, catalog_link__in=links)


def order_by(sort: str) -> tuple[str, ...]:
    """ORDER BY columns for a sort word such as `-delivered`, ending in a unique column.

    Ties break on the primary key, which every secondary index carries (SQLite's
    rowid, InnoDB's clustered key), so an indexed column pages from its index.
    """
    key = sort.lstrip("-")
    if key not in COLUMNS:
        raise BadQuery(f"Cannot sort on {key[:40]!r}: choose one of {', '.join(COLUMNS)}.")
    descending = "-" if sort.startswith("-") else ""
    columns = (COLUMNS[key],) if key == "name" else TIES.get(key, (COLUMNS[key], "id"))
    return tuple(descending + column for column in columns)


def count(filters: Filters) -> int:
    return cache.cached(f"browse-count:{_key(filters)}", lambda: query(filters).count())


def page(filters: Filters, sort: str = DEFAULT_SORT, number: int = 1, per_page: int = 50) -> Page:
    """One page of matching records; a page past the end shows the last page."""
    if per_page not in PAGE_SIZES:
        raise BadQuery(f"Page size must be one of {', '.join(map(str, PAGE_SIZES))}.")
    ordering = order_by(sort)
    total = count(filters)
    last = max(1, math.ceil(total / per_page))
    number = min(max(1, number), last)
    offset = (number - 1) * per_page
    rows = list(query(filters).order_by(*ordering).only(*ROW_FIELDS)[offset:offset + per_page])
    return Page(rows=rows, number=number, per_page=per_page, count=total, sort=sort)


def choices() -> dict[str, list[str]]:
    """Menus for the filter form, from the catalog (cached per catalog generation)."""
    def build() -> dict[str, list[str]]:
        rows = catalog.cataloged()
        return {
            "instruments": sorted(i for i in rows.values_list("instrument", flat=True).distinct() if i),
            "filekinds": sorted(k for k in rows.values_list("filekind", flat=True).distinct() if k),
            "deliverers": sorted(d for d in rows.values_list("deliverer_user", flat=True).distinct() if d),
        }
    return cache.cached("browse-choices", build)


def _key(filters: Filters) -> str:
    """The cache key of a filter; a status filter's count also depends on the delivery area's renames."""
    live = sorted(pending_statuses().items()) if filters.status not in ("", "bad") else []
    return hashlib.sha1(repr((sorted(asdict(filters).items()), live)).encode()).hexdigest()
