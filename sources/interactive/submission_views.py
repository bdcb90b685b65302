"""Submission pages: Batch Submit References and the confirm/cancel/force endpoints (§5.3, §5.5).

Thin views over interactive.submission and interactive.confirm.  Errors
reach browsers and the `crds submit` client in div#error_message.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib import auth
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods, require_POST
from jpoll import service as jpoll
from locking import service as locks
from locking.access import FILE_SUBMISSION, group_required, instrument_lock_required, refuse

from interactive import certify, confirm, contexts, delivery, naming, submission, web
from interactive.results import result_url

log = logging.getLogger(__name__)

FALSE_TEXTS = ("false", "0", "0.0", "f", "")


def checkbox(value: str | None) -> bool:
    """The client's rule: False, false, FALSE, 0, 0.0, F or empty are false; anything else true."""
    return str(value or "").strip().lower() not in FALSE_TEXTS


def _form_page(request, form: dict, error: str = ""):
    pointers = contexts.pointers()
    return render(request, "interactive/batch_submit_input.html", {
        "form": form, "error_message": error, "files": certify.ingested_files(request.user.get_username()),
        "edit_context": pointers.get("edit", ""), "latest_context": pointers.get("latest", ""),
        "pmap_modes": certify.PMAP_MODES, "change_levels": submission.CHANGE_LEVELS})


@never_cache
@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
@group_required(FILE_SUBMISSION)
@instrument_lock_required
def batch_submit_references(request):
    """GET the form; POST runs the submission, reporting through the session's jpoll channel."""
    post = request.POST
    form = {
        "pmap_mode": post.get("pmap_mode", "pmap_edit"),
        "pmap_name": post.get("pmap_text") or post.get("pmap_name", ""),
        "description": post.get("description", ""), "creator": post.get("creator", ""),
        "change_level": post.get("change_level", "SEVERE"),
        "auto_rename": checkbox(post.get("auto_rename", "True")) if request.method == "POST" else True,
        "compare_old_reference": checkbox(post.get("compare_old_reference")) if request.method == "POST" else True,
    }
    if request.method == "GET":
        return _form_page(request, form)
    lock = getattr(request, "instrument_lock", None)
    channel = jpoll.session_channel(request)
    batch = submission.BatchRequest(
        user=request.user.get_username(), description=form["description"], pmap_mode=form["pmap_mode"],
        pmap_name=form["pmap_name"], creator=form["creator"], change_level=form["change_level"],
        auto_rename=form["auto_rename"], compare_old_reference=form["compare_old_reference"],
        lock_id=lock.lock_id if lock else "", locked_instrument=lock.name if lock else "", channel=channel,
        result_url=lambda result_id: result_url(request, result_id))
    try:
        result = submission.batch_submit(batch)
    except (submission.SubmissionError, jpoll.Aborted) as exc:
        return _form_page(request, form, str(exc))
    except Exception:
        return _form_page(request, form, "internal server error")
    submission.announce_done(batch, result)
    time.sleep(getattr(settings, "CRDS_SUBMIT_DONE_DELAY", 10.0))  # let pollers see `done` first
    return redirect("display_result", result_id=result.name)


def delivery_failure(exc: Exception) -> str:
    """What the user reads when a confirm could not deliver; the confirm was undone, so they may retry."""
    reason = web.strip_paths(str(exc)).removeprefix("Delivery failed: ")
    return f"Delivery failed: {reason}"


def _decide(request):
    """Carry out the button; the confirmation page itself is the answer (the user is logged out)."""
    user = request.user.get_username()
    lock = getattr(request, "instrument_lock", None)
    try:
        decision = confirm.decide(request.POST.get("results_id", ""), request.POST.get("button", ""), user,
                                  lock=lock, is_superuser=request.user.is_superuser,
                                  result_url=lambda rid: result_url(request, rid))
    except confirm.ConfirmError as exc:
        return refuse(request, str(exc))
    except (delivery.DeliveryError, naming.NamingError) as exc:
        log.exception("Delivery of submission %s for %s failed", request.POST.get("results_id", "")[:64], user)
        return refuse(request, delivery_failure(exc))
    except Exception:
        log.exception("Decision on submission %s by %s failed", request.POST.get("results_id", "")[:64], user)
        return refuse(request, "internal server error")
    channel = request.session.get(jpoll.SESSION_KEY, "")
    if channel:
        jpoll.done(channel, jpoll.OK, result_url(request, decision.confirmation.name))
    locks.release_all(user)
    auth.logout(request)
    return render(request, decision.confirmation.page_template,
                  {**decision.confirmation.parameters, "result": decision.confirmation})


@never_cache
@require_POST
@group_required(FILE_SUBMISSION)
@instrument_lock_required
def submit_confirm(request):
    return _decide(request)


@never_cache
@require_POST
@group_required(FILE_SUBMISSION)
@instrument_lock_required
def submit_confirm_pipeline(request):
    """`crds submit --autoconfirm`: answered with the confirmation page itself (HTTP 200)."""
    return _decide(request)
