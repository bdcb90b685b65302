"""Request plumbing shared by every app."""

import re

_SLASHES = re.compile(r"/{2,}")


class CollapseSlashesMiddleware:
    """Treat `//login/` as `/login/`.

    The submission client joins a base URL ending in "/" with "/login/"; the
    original ran behind Apache, which merges slashes.  Django's own server does
    not, so merge them here before URL resolution.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "//" in request.path_info:
            request.path_info = _SLASHES.sub("/", request.path_info)
            request.path = _SLASHES.sub("/", request.path)
        return self.get_response(request)
