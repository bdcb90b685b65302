"""Recent Activity: the audit log, filtered and paged (server-behaviour.md §2.2)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from interactive.browse import glob_regex
from interactive.models import AuditAction

PER_PAGE = 50


@dataclass(frozen=True)
class ActivityFilters:
    action: str = ""
    instrument: str = ""
    filekind: str = ""
    filename: str = ""
    user: str = ""
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    mass_import: bool = False


def query(filters: ActivityFilters) -> QuerySet[AuditAction]:
    """Audit rows newest first, without delivery (.cat) rows and, unless asked for, mass imports."""
    qs = AuditAction.objects.exclude(filename__endswith=".cat")
    if filters.action:
        qs = qs.filter(action=filters.action)
    elif not filters.mass_import:
        qs = qs.exclude(action="mass import")
    if filters.instrument:
        qs = qs.filter(instrument=filters.instrument)
    if filters.filekind:
        qs = qs.filter(filekind=filters.filekind)
    if filters.filename:
        if any(c in filters.filename for c in "*?"):
            qs = qs.filter(filename__regex=glob_regex(filters.filename))
        else:
            qs = qs.filter(filename=filters.filename)
    if filters.user:
        qs = qs.filter(user=filters.user)
    if filters.date_from:
        qs = qs.filter(date__gte=datetime.datetime.combine(filters.date_from, datetime.time.min))
    if filters.date_to:
        qs = qs.filter(date__lt=datetime.datetime.combine(filters.date_to, datetime.time.min)
                       + datetime.timedelta(days=1))
    return qs.order_by("-date", "-id")


def page(filters: ActivityFilters, number: int = 1) -> Page:
    return Paginator(query(filters), PER_PAGE).get_page(number)
