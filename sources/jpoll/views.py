"""Browser side of jpoll: open a channel, poll it, follow it on a monitor page."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from jpoll import service


@never_cache
@require_GET
@login_required
def open_channel(request):
    """A fresh channel, remembered in the session for the next long-running form POST."""
    key = service.open_channel(request.user.get_username())
    request.session[service.SESSION_KEY] = key
    return JsonResponse(key, safe=False)


@never_cache
@require_GET
@login_required
def pull_messages(request, key: str, since_id: str):
    try:
        return JsonResponse(service.pull(key, since_id), safe=False)
    except service.ChannelNotFound as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    except service.BadSinceId as exc:
        return JsonResponse({"error": str(exc)}, status=400)


@never_cache
@require_GET
@login_required
def monitor(request, key: str):
    """A page following channel `key` live; it also becomes the session's channel."""
    try:
        service.last_id(key)
    except service.ChannelNotFound as exc:
        raise Http404(str(exc)) from None
    request.session[service.SESSION_KEY] = key
    return render(request, "jpoll/monitor.html", {"key": key})
