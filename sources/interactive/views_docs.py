"""Documentation pages and the server status page."""

from __future__ import annotations

import platform
import re
import shutil

import crds
import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from interactive import catalog, contexts
from interactive.web import NotFound, page

DOC_NAME = re.compile(r"^[a-z0-9_]{1,64}\Z")


@page
def docs(request: HttpRequest, page_name: str) -> HttpResponse:
    """Only the templates interactive/docs/<page>.crds.html exist as pages."""
    if not DOC_NAME.match(page_name):
        raise NotFound(f"There is no documentation page {page_name[:70]!r}.")
    template = f"interactive/docs/{page_name}.crds.html"
    try:
        get_template(template)
    except TemplateDoesNotExist:
        raise NotFound(f"There is no documentation page {page_name!r}.") from None
    return render(request, template, {"page_name": page_name})


def disk_use() -> list[tuple[str, str, str]]:
    """(area, used, free) of the file systems holding the server roots; no paths are shown."""
    rows = []
    for label, root in (("Server area", settings.CRDS_ROOT), ("Server files", settings.CRDS_SERVER_FILES),
                        ("File cache", settings.CRDS_FILE_CACHE)):
        try:
            usage = shutil.disk_usage(root)
        except OSError:
            rows.append((label, "unavailable", "unavailable"))
            continue
        rows.append((label, f"{usage.used / 2**30:.1f} GiB of {usage.total / 2**30:.1f} GiB",
                     f"{usage.free / 2**30:.1f} GiB"))
    return rows


@page
def server_status(request: HttpRequest) -> HttpResponse:
    """Versions, contexts, cache backend and disk use."""
    return render(request, "interactive/server_status.html", {
        "versions": [("crds", crds.__version__), ("Django", django.get_version()),
                     ("Python", platform.python_version())],
        "pointers": contexts.pointers(),
        "cache_backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
        "stack": settings.CRDS_STACK,
        "files": catalog.cataloged().count(),
        "disk": disk_use(),
    })
