"""Extended (ReDCaT) submission pages and Submission History (crds-protocol.md §7.3, server-behaviour.md §15).

Thin views over interactive.redcat.  The description is public (the
`crds.submit.Submission` API reads it before logging in); the history shows
names and e-mails, so it needs a login (§16.2).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods
from jpoll import service as jpoll
from locking.access import FILE_SUBMISSION, group_required, instrument_lock_required

from interactive import certify, contexts, redcat, submission
from interactive.results import result_url


@require_GET
def redcat_description(request):
    return HttpResponse(redcat.description_yaml(), content_type="text/yaml; charset=utf-8")


def _form_page(request, form: redcat.RedcatForm, error: str = ""):
    pointers = contexts.pointers()
    return render(request, "interactive/redcat_submit.html", {
        "form": form, "error_message": error, "files": certify.ingested_files(request.user.get_username()),
        "edit_context": pointers.get("edit", ""), "latest_context": pointers.get("latest", "")})


@never_cache
@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
@group_required(FILE_SUBMISSION)
@instrument_lock_required
def redcat_submit(request):
    """GET the form; POST stores the answers and runs Batch Submit References on the ingest area."""
    lock = getattr(request, "instrument_lock", None)
    if request.method == "GET":
        return _form_page(request, redcat.RedcatForm(initial={"instrument": lock.name} if lock else None))
    form = redcat.RedcatForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, form.errors_text())
    try:
        _, result = redcat.redcat_submit(form.cleaned_data, request.user.get_username(), lock=lock,
                                         channel=jpoll.session_channel(request),
                                         result_url=lambda result_id: result_url(request, result_id))
    except (submission.SubmissionError, jpoll.Aborted) as exc:
        return _form_page(request, form, str(exc))
    except Exception:
        return _form_page(request, form, "internal server error")
    time.sleep(getattr(settings, "CRDS_SUBMIT_DONE_DELAY", 10.0))  # let pollers see `done` first
    return redirect("display_result", result_id=result.name)


@never_cache
@login_required
def redcat_list(request):
    return render(request, "interactive/redcat_list.html", {"submissions": redcat.history()})


@never_cache
@login_required
def redcat_detail(request, submission_id: int):
    found = redcat.detail(submission_id)
    if found is None:
        raise Http404(f"No submission {submission_id}.")
    record, rows = found
    return render(request, "interactive/redcat_detail.html", {"submission": record, "rows": rows})
