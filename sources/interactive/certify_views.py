"""The Certify Files page: check the ingest area against a context, with live progress."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods
from jpoll import service as jpoll

from interactive import certify, contexts
from interactive.results import result_url
from interactive.tasks import certify_ingest

TRUE_TEXTS = ("true", "t", "1", "on", "yes")


class CertifyForm(forms.Form):
    pmap_mode = forms.ChoiceField(choices=[(m, m) for m in certify.PMAP_MODES], initial="pmap_edit")
    pmap_name = forms.CharField(required=False, max_length=128)
    compare_old_reference = forms.CharField(required=False, max_length=8)

    def clean_compare_old_reference(self) -> bool:
        return str(self.cleaned_data.get("compare_old_reference") or "").lower() in TRUE_TEXTS

    def clean(self):
        data = super().clean()
        if "pmap_mode" in data:
            try:
                data["context"] = certify.choose_context(data["pmap_mode"], data.get("pmap_name", ""))
            except certify.CertifyError as exc:
                self.add_error("pmap_name" if data["pmap_mode"] in ("pmap_menu", "pmap_text") else "pmap_mode",
                               str(exc))
        return data


def _page(request, form, error: str = "", status: int = 200):
    user = request.user.get_username()
    pointers = contexts.pointers()
    return render(request, "interactive/certify.html", {
        "form": form, "error_message": error, "files": certify.ingested_files(user),
        "edit_context": pointers.get("edit", ""), "latest_context": pointers.get("latest", ""),
    }, status=status)


@never_cache
@login_required
@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
def certify_files(request):
    """GET the form; POST certifies in a background task and reports through the session's channel."""
    if request.method == "GET":
        return _page(request, CertifyForm())
    form = CertifyForm(request.POST)
    if not form.is_valid():
        return _page(request, form, " ".join(e for errs in form.errors.values() for e in errs))
    user = request.user.get_username()
    if not certify.ingested_files(user):
        return _page(request, form, "Your ingest area is empty: upload the files to certify first.")
    channel = jpoll.session_channel(request)
    result_id = str(uuid.uuid4())
    try:
        outcome = certify_ingest.delay(user, form.cleaned_data["context"], form.cleaned_data["compare_old_reference"],
                                       channel, result_id, result_url(request, result_id))
        if outcome.ready():
            outcome.get()  # re-raise a failure of an in-process run
    except (certify.CertifyError, jpoll.Aborted) as exc:
        return _page(request, form, str(exc))
    if outcome.ready():
        return redirect("display_result", result_id=result_id)
    return redirect("jpoll_monitor", key=channel)
