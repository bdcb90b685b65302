"""Time every request and hand it to the recorder (see stats.recorder)."""

import time

from django.utils.functional import empty

from stats import recorder


def _rpc_method(request) -> str:
    """The JSON-RPC method: the client puts it in the path, /json/<method>/<id>/."""
    explicit = getattr(request, "rpc_method", "")
    if explicit:
        return explicit
    parts = request.path_info.strip("/").split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "json" else ""


def _username(request) -> str:
    """The user, if the request already looked it up: resolving it here would cost a session read."""
    user = getattr(request, "user", None)
    if user is None or getattr(user, "_wrapped", None) is empty:
        return ""
    return user.get_username() if user.is_authenticated else ""


class RequestStatsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        recorder.record(request.path_info, _rpc_method(request), _username(request), response.status_code,
                        time.perf_counter() - started)
        return response
