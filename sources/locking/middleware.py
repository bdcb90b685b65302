"""Keep a working user's instrument lock alive (server-behaviour.md §8.3)."""

from locking import service

# Status and progress polling must not keep a lock alive.
_NO_REFRESH = ("lock_status", "jpoll")


class LockRefreshMiddleware:
    """Every authenticated request slides the user's instrument lock expiry, except polling."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if not any(word in path for word in _NO_REFRESH):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                service.refresh_instrument_lock(user.get_username())
        return self.get_response(request)
