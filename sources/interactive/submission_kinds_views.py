"""Pages of the submission kinds besides Batch Submit (server-behaviour.md §5.6, §15, defect §16.3).

Thin views over interactive.submission_kinds: GET shows the form, POST runs
the kind with progress on the session's jpoll channel and redirects to the
READY result (or, for create contexts, shows the confirmation page).  Errors
reach browsers and the `crds` client in div#error_message.
"""

from __future__ import annotations

import logging
import time
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods
from jpoll import service as jpoll
from locking.access import FILE_SUBMISSION, group_required, instrument_lock_required, refuse

from interactive import certify, contexts, submission, submission_kinds
from interactive.results import result_url
from interactive.submission_views import checkbox

log = logging.getLogger(__name__)
TEMPLATE = "interactive/submission_kind_input.html"
TITLES = {"submit_mapping": "Submit Mappings", "submit_reference": "Submit References",
          "delete_reference": "Delete References", "add_existing_reference": "Add Existing References",
          "create_contexts": "Create Contexts"}


def superuser_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_superuser:
            return refuse(request, "Only superusers can use this page.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _form(request) -> dict:
    post = request.POST
    posted = request.method == "POST"
    return {
        "pmap_mode": post.get("pmap_mode", "pmap_edit"),
        "pmap_name": post.get("pmap_text") or post.get("pmap_name", ""),
        "description": post.get("description", ""), "creator": post.get("creator", ""),
        "change_level": post.get("change_level", "SEVERE"),
        "auto_rename": checkbox(post.get("auto_rename", "True")) if posted else True,
        "compare_old_reference": checkbox(post.get("compare_old_reference")) if posted else True,
        "generate_contexts": checkbox(post.get("generate_contexts")) if posted else False,
        "deleted_files": post.get("deleted_files", ""), "added_files": post.get("added_files", ""),
        "pmap": post.get("pmap", ""), "rmaps": post.get("rmaps", ""),
    }


def _page(request, kind: str, form: dict, error: str = ""):
    pointers = contexts.pointers()
    return render(request, TEMPLATE, {
        "kind": kind, "title": TITLES[kind], "form": form, "error_message": error,
        "files": certify.ingested_files(request.user.get_username()),
        "edit_context": pointers.get("edit", ""), "latest_context": pointers.get("latest", ""),
        "change_levels": submission.CHANGE_LEVELS}, status=200)


def _batch_request(request, form: dict) -> submission.BatchRequest:
    lock = getattr(request, "instrument_lock", None)
    return submission.BatchRequest(
        user=request.user.get_username(), description=form["description"], pmap_mode=form["pmap_mode"],
        pmap_name=form["pmap_name"], creator=form["creator"], change_level=form["change_level"],
        auto_rename=form["auto_rename"], compare_old_reference=form["compare_old_reference"],
        lock_id=lock.lock_id if lock else "", locked_instrument=lock.name if lock else "",
        channel=jpoll.session_channel(request), result_url=lambda result_id: result_url(request, result_id))


def _run(request, kind: str, action):
    """GET: the form.  POST: run `action(batch_request, form)` and redirect to its READY result."""
    form = _form(request)
    if request.method == "GET":
        return _page(request, kind, form)
    batch = _batch_request(request, form)
    try:
        result = action(batch, form)
    except (submission.SubmissionError, jpoll.Aborted) as exc:
        return _page(request, kind, form, str(exc))
    except Exception:
        log.exception("%s by %s failed", TITLES[kind], batch.user)
        return _page(request, kind, form, "internal server error")
    submission.announce_done(batch, result)
    time.sleep(getattr(settings, "CRDS_SUBMIT_DONE_DELAY", 10.0))  # let pollers see `done` first
    return redirect("display_result", result_id=result.name)


def _submission_view(view):
    """Login, group file_submission and the instrument lock (superusers may be unlocked), CSRF, no caching."""
    return never_cache(ensure_csrf_cookie(require_http_methods(["GET", "POST"])(
        group_required(FILE_SUBMISSION)(instrument_lock_required(view)))))


@_submission_view
def submit_mapping(request):
    return _run(request, "submit_mapping", lambda batch, form: submission_kinds.submit_mappings(
        batch, generate_contexts=form["generate_contexts"]))


@_submission_view
def submit_reference(request):
    return _run(request, "submit_reference", lambda batch, form: submission_kinds.submit_references(batch))


@_submission_view
def delete_reference(request):
    return _run(request, "delete_reference", lambda batch, form: submission_kinds.delete_references(
        batch, submission_kinds.split_names(form["deleted_files"])))


@_submission_view
def add_existing_reference(request):
    return _run(request, "add_existing_reference", lambda batch, form: submission_kinds.add_existing_references(
        batch, submission_kinds.split_names(form["added_files"])))


@never_cache
@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
@superuser_required
def create_contexts(request):
    """Superuser: generate and deliver imaps and a pmap at once; answered with the confirmation page."""
    form = _form(request)
    if request.method == "GET":
        return _page(request, "create_contexts", form)
    channel = jpoll.session_channel(request)
    try:
        result = submission_kinds.create_contexts(
            request.user.get_username(), form["pmap"].strip(), submission_kinds.split_names(form["rmaps"]),
            form["description"], progress=lambda text: jpoll.write(channel, text) if channel else None)
    except submission.SubmissionError as exc:
        return _page(request, "create_contexts", form, str(exc))
    except Exception:
        log.exception("Create contexts by %s failed", request.user.get_username())
        return _page(request, "create_contexts", form, "internal server error")
    if channel:
        jpoll.done(channel, jpoll.OK, result_url(request, result.name))
    return redirect("display_result", result_id=result.name)
