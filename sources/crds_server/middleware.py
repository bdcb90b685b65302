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


class PrefixMount:
    """WSGI wrapper that serves the site under CRDS_URL_PREFIX (e.g. /hst) with Django's own server.

    Apache mounts the application at the prefix with WSGIScriptAlias and passes
    it as SCRIPT_NAME; Django's server passes the whole path.  Then move the
    prefix from PATH_INFO to SCRIPT_NAME here, so `/hst/login/` resolves like
    `/login/` (FORCE_SCRIPT_NAME puts the prefix on every reversed URL and
    redirect).  `/` is redirected to the prefix; other paths outside it are 404.
    """

    def __init__(self, application, prefix: str):
        self.application = application
        self.prefix = prefix.rstrip("/")

    def __call__(self, environ, start_response):
        if not self.prefix or environ.get("SCRIPT_NAME"):
            return self.application(environ, start_response)
        path = _SLASHES.sub("/", environ.get("PATH_INFO", "") or "/")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            environ["SCRIPT_NAME"] = self.prefix
            environ["PATH_INFO"] = path[len(self.prefix):] or "/"
            return self.application(environ, start_response)
        if path == "/":
            start_response("302 Found", [("Location", self.prefix + "/"), ("Content-Length", "0")])
            return [b""]
        body = f"Not found: this CRDS server is at {self.prefix}/\n".encode()
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                         ("Content-Length", str(len(body)))])
        return [body]
