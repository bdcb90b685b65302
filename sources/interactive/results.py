"""Stored result pages (READY, confirmation, certify): shown again by UUID, to logged-in users only.

The original never enforced `requires_authentication` (defect §16.1); here a
result that requires it needs a login.
"""

from __future__ import annotations

import re

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from interactive import ready_buttons, submission
from interactive.models import StoredResult

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def result_url(request, result_id: str) -> str:
    """The absolute URL of a stored result, as the final jpoll `done` message carries it."""
    return request.build_absolute_uri(reverse("display_result", args=[result_id]))


def _show(request, result_id: str):
    result = StoredResult.objects.filter(name=result_id).first() if UUID_RE.match(result_id) else None
    if result is None:
        raise Http404(f"No stored result {result_id[:40]!r}.")
    if result.requires_authentication and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    page = {**result.parameters, "result": result}
    if result.page_template == submission.READY_TEMPLATE:
        page["buttons"] = ready_buttons.ready_buttons(result, request.user)
    return render(request, result.page_template, page)


@never_cache
@ensure_csrf_cookie
@require_GET
def display_result(request, result_id: str):
    return _show(request, result_id)


@never_cache
@ensure_csrf_cookie
@require_GET
def authenticated_result(request, result_id: str):
    """The link used in e-mails: always asks for a login first."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return _show(request, result_id)
