"""File distribution: the download URLs server info advertises, and the brokered /get/.

Only cataloged files in a distribution state are served; the file cache also
holds unconfirmed uploads, which must never leak.  Every refusal is a plain
404 (never an HTML page with status 200, which a client would save as the
file).  Downloads are the most frequent requests (a sync fetches every
mapping of a context), so they are answered from the in-memory index of
distributable files, not a catalog query.  Under mod_wsgi a plain whole-file
GET is handed to Apache (local redirect), which sends the file itself: the
daemon process would otherwise copy every byte through its socket.  Other
requests are streamed from disk (FileResponse); HTTP Range and conditional GET
use the sha1sum as ETag so interrupted downloads resume.
"""

from __future__ import annotations

import os
import re

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseNotFound, HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_safe
from interactive import cache, storage
from interactive.models import INACTIVE_STATES, FileRecord

from jsonapi import server_info

KINDS = {"mappings": "mapping", "references": "reference"}
CONFIG_FILES = ("server_config", "bad_files.txt")
CHUNK = 1024 * 1024
_RANGE = re.compile(r"^bytes=([0-9]{0,18})-([0-9]{0,18})\Z")  # longer numbers: malformed, whole file


class Unavailable(LookupError):
    """A file that cannot be served; the message says why."""


def _not_found(message: str) -> HttpResponseNotFound:
    return HttpResponseNotFound(message + "\n", content_type="text/plain; charset=utf-8")


def servable(name: str, kind: str | None = None) -> tuple[str, str]:
    """(type, sha1sum) of a file this server may distribute, or Unavailable saying why not."""
    try:
        storage.check_filename(name)
    except storage.BadName as exc:
        raise Unavailable(str(exc)) from None
    entry = cache.distributable_index().get(name)
    if entry is None or (kind and entry[0] != kind):
        record = FileRecord.objects.filter(name=name).exclude(state__in=INACTIVE_STATES).first()
        if record is None or (kind and record.type != kind):
            raise Unavailable(f"File '{name}' is not known to CRDS.")
        # A delivered file the archive has just taken is stored `archived` here, and so indexed.
        entry = cache.distributable_index().get(name) if record.available else None
        if entry is None:
            raise Unavailable(f"File '{name}' is not yet available for distribution.")
    if not entry[1]:
        raise Unavailable(f"File '{name}' is known to CRDS but this server does not hold a copy.")
    return entry[0], entry[2]


@require_safe
def unchecked_get(request, kind: str, observatory: str, name: str) -> HttpResponse:
    """Raw bytes of a distributable mapping or reference."""
    if kind == "config":
        return config_file(request, observatory, name)
    if kind not in KINDS or observatory != settings.CRDS_OBSERVATORY:
        return _not_found(f"No such download area '{kind}/{observatory}'.")
    try:
        _, sha1sum = servable(name, KINDS[kind])
    except Unavailable as exc:
        return _not_found(str(exc))
    path = storage.cache_path(name)
    if _apache_may_deliver(request) and path.is_file():
        return _delivered_by_apache(request, path, sha1sum)
    try:
        handle = open(path, "rb")
    except OSError:
        return _not_found(f"File '{name}' is known to CRDS but this server does not hold a copy.")
    return _file_response(request, handle, sha1sum, "text/plain; charset=utf-8" if kind == "mappings"
                          else "application/octet-stream")


def _apache_may_deliver(request) -> bool:
    """A plain whole-file GET in a mod_wsgi daemon process (which can hand the transfer to Apache)."""
    return (request.method == "GET" and bool(request.META.get("mod_wsgi.process_group"))
            and "Range" not in request.headers and "If-None-Match" not in request.headers)


def _delivered_by_apache(request, path, sha1sum: str) -> HttpResponse:
    """200 with a local Location: mod_wsgi has Apache serve the file itself (servers/httpd.conf)."""
    response = HttpResponse(status=200)
    url = f"{request.META.get('SCRIPT_NAME', '')}/_delivered_files/{path.relative_to(settings.CRDS_FILE_CACHE)}"
    response["Location"] = url + (f"?{sha1sum}" if re.fullmatch(r"[0-9a-f]{40}", sha1sum) else "")
    return response


def _file_response(request, handle, sha1sum: str, content_type: str) -> HttpResponse:
    size = os.fstat(handle.fileno()).st_size
    etag = f'"{sha1sum}"' if sha1sum not in ("", "none") else None
    if etag and _etags(request.headers.get("If-None-Match", "")) & {etag, "*"}:
        handle.close()
        response = HttpResponse(status=304)
        response["ETag"] = etag
        return response
    wanted = _wanted_range(request, size, etag)
    if wanted == "unsatisfiable":
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if wanted is None:
        response = FileResponse(handle, content_type=content_type)
        response.block_size = CHUNK  # when the server has no file wrapper of its own
    else:
        start, end = wanted
        response = StreamingHttpResponse(_slice(handle, start, end - start + 1), status=206,
                                         content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    if etag:
        response["ETag"] = etag
    return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _wanted_range(request, size: int, etag: str | None):
    """(start, end) of a single satisfiable byte range, None for the whole file, or "unsatisfiable"."""
    header = request.headers.get("Range", "")
    if not header:
        return None
    if_range = request.headers.get("If-Range")
    if if_range and (etag is None or if_range.strip() != etag):
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # multi-range or malformed: serve the whole file, as RFC 9110 allows
    first, last = match.groups()
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(size - int(last), 0), size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


def _slice(handle, start: int, length: int):
    with handle:
        handle.seek(start)
        while length > 0:
            data = handle.read(min(CHUNK, length))
            if not data:
                break
            length -= len(data)
            yield data


def config_file(request, observatory: str, name: str) -> HttpResponse:
    """server_config (a Python literal, as the client writes it) and bad_files.txt."""
    if observatory != settings.CRDS_OBSERVATORY or name not in CONFIG_FILES:
        return _not_found(f"No such configuration file '{name[:64]}'.")
    text = server_info.server_config_text(request) if name == "server_config" else server_info.bad_files_text()
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@require_safe
def download_area(request, kind: str, observatory: str) -> HttpResponse:
    """The advertised prefixes themselves list nothing."""
    return _not_found("Give a file name after the download prefix.")


@require_safe
def brokered_get(request, name: str) -> HttpResponse:
    """/get/<name>: check the catalog, then redirect to the file's download URL."""
    try:
        kind, _ = servable(name)
    except Unavailable as exc:
        return _not_found(str(exc))
    kind = "mappings" if kind == "mapping" else "references"
    return HttpResponseRedirect(reverse("unchecked-get", args=(kind, settings.CRDS_OBSERVATORY, name)))
