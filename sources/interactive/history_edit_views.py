"""`/edit_context_history/<id>/<context>/`: rewrite a history row's description (group edit_context_history)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from django.views.decorators.http import require_http_methods
from locking.access import EDIT_CONTEXT_HISTORY, group_required

from interactive import history_edit
from interactive.web import NotFound, page

TEMPLATE = "interactive/edit_context_history.html"


@never_cache
@page
@ensure_csrf_cookie
@csrf_protect
@require_http_methods(["GET", "POST"])
@group_required(EDIT_CONTEXT_HISTORY)
def edit_context_history(request: HttpRequest, history_id: str, context: str) -> HttpResponse:
    """GET shows the row and its description; POST rewrites the description and returns to the history."""
    try:
        row = history_edit.history_row(history_id, context)
    except history_edit.UnknownRow as exc:
        raise NotFound(str(exc)) from None
    if request.method == "GET":
        return render(request, TEMPLATE, {"row": row, "description": row.description})
    description = request.POST.get("description", "")
    try:
        history_edit.rewrite_description(row, description, request.user.get_username())
    except history_edit.HistoryEditError as exc:
        return render(request, TEMPLATE, {"row": row, "description": description, "error_message": str(exc)},
                      status=400)
    return redirect("display_context_history")
