"""Plumbing every read-only page shares: error pages and path scrubbing.

Views raise `PageError` (or a CRDS / catalog error) for bad input; the `page`
decorator turns it into an error page with the message verbatim, any other
exception into "internal server error", and removes server file paths from
whatever is rendered (server-behaviour.md §14).
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path

from crds.core.exceptions import CrdsError
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from interactive.catalog import UnknownFile
from interactive.storage import BadName

log = logging.getLogger(__name__)


class PageError(Exception):
    """A request a person can fix: the message is shown as is."""

    status = 400


class NotFound(PageError):
    status = 404


# Errors whose text is meant for users; everything else is "internal server error".
USER_ERRORS: tuple[tuple[type[BaseException], int], ...] = (
    (PageError, 0), (UnknownFile, 404), (BadName, 404), (CrdsError, 400),
)


def _roots() -> list[str]:
    roots = {settings.CRDS_FILE_CACHE, settings.CRDS_SERVER_FILES, settings.CRDS_ROOT,
             settings.BASE_DIR.parent, Path(sys.prefix)}
    return sorted((str(r) for r in roots if str(r) not in ("", "/")), key=len, reverse=True)


@functools.cache
def _path_re() -> re.Pattern:
    alternatives = "|".join(re.escape(root) for root in _roots())
    return re.compile(rf"(?:{alternatives})(?:/[^\s'\"<>&;,)\]]*)?")


def strip_paths(text: str) -> str:
    """Replace every server path in `text` by its last component (a file's name)."""
    return _path_re().sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def error_page(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "interactive/error.html", {"error": strip_paths(message)}, status=status)


def user_error(exc: BaseException) -> tuple[str, int] | None:
    """(message, status) for errors users should read, else None."""
    for kind, status in USER_ERRORS:
        if isinstance(exc, kind):
            return str(exc), status or exc.status
    return None


def page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Error handling and path scrubbing for a page view."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Exception as exc:
            known = user_error(exc)
            if known is None:
                log.exception("Page %s failed", request.path)
                return error_page(request, "internal server error", 500)
            return error_page(request, *known)
        content_type = response.get("Content-Type", "")
        if content_type.startswith("text/html") and not response.streaming:
            text = response.content.decode(response.charset or "utf-8")
            scrubbed = strip_paths(text)
            if scrubbed != text:
                response.content = scrubbed.encode(response.charset or "utf-8")
        return response

    return wrapper

