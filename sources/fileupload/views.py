"""Upload endpoints of the browser uploader and of `crds submit` (crds-protocol.md §7.3)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from fileupload import ingest


def _user(request) -> str:
    return request.user.get_username()


def _listing(request, status: int = 200, errors: list[dict] | None = None) -> JsonResponse:
    files = ingest.list_files(_user(request), ingest.delete_token(request.session))
    return JsonResponse({"files": (errors or []) + files}, status=status)


def _error(name: str, message: str) -> dict:
    return {"name": name, "error": message}


@never_cache
@login_required
@ensure_csrf_cookie
@require_http_methods(["GET"])
def upload_page(request):
    """The browser uploader: pick files, watch progress, list and delete."""
    return render(request, "fileupload/upload.html", {
        "files": ingest.list_files(_user(request), ingest.delete_token(request.session)),
    })


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def upload_new(request):
    """Multipart upload of whole files (field `files`); all names and sizes are checked before any is saved."""
    if request.method == "GET":
        return redirect("upload_list")
    uploads = request.FILES.getlist("files")
    if not uploads:
        return _listing(request, 400, [_error("", "No file was uploaded.")])
    errors = []
    for upload in uploads:
        try:
            ingest.check_ingest_name(upload.name)
            ingest.check_size(upload.name, upload.size)
        except ingest.UploadError as exc:
            errors.append(_error(upload.name[:128], str(exc)))
    if not errors:
        for upload in uploads:
            try:
                ingest.save_upload(_user(request), upload.name, upload)
            except ingest.UploadError as exc:
                errors.append(_error(upload.name, str(exc)))
    return _listing(request, 400 if errors else 200, errors)


@never_cache
@login_required
@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
def upload_chunked(request):
    """The `crds submit` protocol: whole small files, or 2 MB chunks with Content-Range.

    Every response sets the csrftoken cookie, which the client reads after each chunk.
    """
    if request.method == "GET":
        return _listing(request)
    upload = request.FILES.get("files")
    if upload is None:
        return _listing(request, 400, [_error("", "No file was uploaded.")])
    try:
        header = request.headers.get("Content-Range")
        if header:
            rng = ingest.parse_content_range(header)
            ingest.save_chunk(_user(request), upload.name, rng, upload.read())
        else:
            ingest.save_upload(_user(request), upload.name, upload)
    except ingest.UploadError as exc:
        return _listing(request, 400, [_error(upload.name[:128], str(exc))])
    return _listing(request)


@never_cache
@login_required
@require_http_methods(["GET"])
def upload_list(request):
    return _listing(request)


@never_cache
@login_required
@require_http_methods(["GET", "POST", "DELETE"])
def upload_delete(request, name: str):
    """Delete from the caller's own ingest area.

    POST/DELETE are CSRF-checked; the GET the client sends must carry this
    session's token from `deleteUrl`, so a forged or guessed link deletes nothing.
    """
    if request.method == "GET" and not ingest.check_delete_token(request.session, request.GET.get("t")):
        return JsonResponse({"error": "Missing or invalid delete token: use the deleteUrl of /upload/list/."},
                            status=403)
    try:
        ingest.delete(_user(request), name)
    except ingest.UploadError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except FileNotFoundError:
        return JsonResponse({"error": f"No file {name!r} in your ingest area."}, status=404)
    return JsonResponse({"files": [{name: True}]})
