"""The superuser page of request statistics."""

from django.contrib.auth.decorators import user_passes_test
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from stats import recorder, summary


@never_cache
@require_GET
@user_passes_test(lambda u: u.is_active and u.is_superuser)
def request_stats(request):
    try:
        days = min(max(int(request.GET.get("days", 7)), 1), 90)
    except ValueError:
        days = 7
    recorder.flush()
    return render(request, "stats/request_stats.html", {"days": days, "summary": summary.daily(days)})
