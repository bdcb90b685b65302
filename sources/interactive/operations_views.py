"""Operator pages: Set Context, Mark Bad/OK, and the archive delivery list.

Thin views over interactive.set_context, interactive.badfiles and
interactive.delivery.  Refusals re-show the form with the reason in
div#error_message (status 400) and change nothing.
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from django.views.decorators.http import require_http_methods
from locking.access import FILE_SUBMISSION, group_required

from interactive import badfiles, contexts, delivery, set_context
from interactive.models import CONTEXT_KINDS, FileRecord

PMAP_CHOICES = 60  # newest pmaps offered in the menu; any other is typed


def _available_pmaps() -> list[str]:
    names = FileRecord.objects.filter(type="mapping", name__endswith=".pmap").values_list("name", "state")
    from django.conf import settings

    usable = [n for n, state in names if state in settings.CRDS_DISTRIBUTION_STATES]
    return sorted(usable, reverse=True)[:PMAP_CHOICES]


def _suggested_description(pointers: dict[str, str]) -> str:
    """The edit pmap's delivery description when it is the very next pmap after latest."""
    latest, edit = pointers.get("latest", ""), pointers.get("edit", "")
    serial = re.search(r"_(\d+)\.pmap$", latest or "")
    following = re.search(r"_(\d+)\.pmap$", edit or "")
    if serial and following and int(following.group(1)) == int(serial.group(1)) + 1:
        record = FileRecord.objects.filter(name=edit).first()
        return record.description if record else ""
    return ""


@never_cache
@ensure_csrf_cookie
@csrf_protect
@require_http_methods(["GET", "POST"])
@group_required(FILE_SUBMISSION)
def set_default_context(request):
    pointers = contexts.pointers()
    form = {
        "context_type": request.POST.get("context_type", "latest"),
        "pmap_mode": request.POST.get("pmap_mode", "pmap_menu"),
        "pmap_menu": request.POST.get("pmap_menu", ""),
        "pmap_text": request.POST.get("pmap_text", ""),
        "description": request.POST.get("description", _suggested_description(pointers)),
        "cal_ver": request.POST.get("cal_ver", ""),
    }
    page = {"pointers": pointers, "kinds": CONTEXT_KINDS, "pmaps": _available_pmaps(), "form": form}
    if request.method == "GET":
        return render(request, "interactive/set_context_input.html", page)
    chosen = form["pmap_text"] if form["pmap_mode"] == "pmap_text" else form["pmap_menu"]
    try:
        result = set_context.set_context(form["context_type"], chosen.strip(), form["description"],
                                         request.user.get_username(), cal_ver=form["cal_ver"].strip())
    except set_context.SetContextError as exc:
        return render(request, "interactive/set_context_input.html", {**page, "error_message": str(exc)},
                      status=400)
    return render(request, "interactive/set_context_result.html", {"result": result,
                                                                    "pointers": contexts.pointers()})


@never_cache
@ensure_csrf_cookie
@csrf_protect
@require_http_methods(["GET", "POST"])
@group_required(FILE_SUBMISSION)
def mark_bad(request):
    form = {"file_known": request.POST.get("file_known", ""), "badflag": request.POST.get("badflag", "bad"),
            "why": request.POST.get("why", "")}
    if request.method == "GET":
        return render(request, "interactive/mark_bad_input.html", {"form": form})
    try:
        files = badfiles.parse_file_list(form["file_known"])
        result = badfiles.mark(files, form["badflag"], form["why"], request.user.get_username())
    except badfiles.MarkBadError as exc:
        return render(request, "interactive/mark_bad_input.html", {"form": form, "error_message": str(exc)},
                      status=400)
    return render(request, "interactive/mark_bad_result.html", {"result": result})


@never_cache
@login_required
@require_http_methods(["GET"])
def delivery_status(request):
    return render(request, "interactive/delivery_status.html", {"deliveries": delivery.deliveries()})
