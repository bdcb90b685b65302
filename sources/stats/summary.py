"""Per-day summaries of the request statistics for the superuser page."""

from __future__ import annotations

import datetime

from django.db.models import Avg, Count, Max, Q
from django.db.models.functions import TruncDate

from stats.models import RequestRecord

TOP = 10


def daily(days: int) -> list[dict]:
    """For each of the last `days` days: counts, errors, mean time, slowest pages and methods."""
    since = datetime.datetime.combine(datetime.date.today() - datetime.timedelta(days=days - 1), datetime.time())
    rows = RequestRecord.objects.filter(time__gte=since).annotate(day=TruncDate("time"))
    totals = (rows.values("day").annotate(requests=Count("id"), errors=Count("id", filter=Q(status__gte=500)),
                                          mean=Avg("duration"), slowest=Max("duration")).order_by("-day"))
    out = []
    for total in totals:
        day_rows = rows.filter(day=total["day"])
        pages = (day_rows.filter(method="").values("path")
                 .annotate(requests=Count("id"), mean=Avg("duration"), slowest=Max("duration"))
                 .order_by("-slowest")[:TOP])
        methods = (day_rows.exclude(method="").values("method")
                   .annotate(requests=Count("id"), mean=Avg("duration"), slowest=Max("duration"))
                   .order_by("-slowest")[:TOP])
        out.append({**total, "pages": list(pages), "methods": list(methods)})
    return out
