"""Differences between two files: cataloged ones (public) or a user's own ingested ones."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from interactive import differences, storage
from interactive.page_forms import DifferenceForm
from interactive.views import ingest_files
from interactive.web import PageError, page


@page
def difference_input(request: HttpRequest) -> HttpResponse:
    """The form; two cataloged names go to their stable, cached URL, an ingested file is compared at once."""
    user = request.user.get_username() if request.user.is_authenticated else ""
    ingest = [name for name, _ in ingest_files(user)] if user else None
    data = request.POST if request.method == "POST" else (request.GET if "file1" in request.GET else None)
    form = DifferenceForm(data, ingest=ingest)
    if not (form.is_bound and form.is_valid()):
        status = 400 if form.is_bound else 200
        return render(request, "interactive/difference_input.html", {"form": form}, status=status)
    data = form.cleaned_data
    if not data.get("upload1") and not data.get("upload2"):
        return redirect("difference_files", data["file1"], data["file2"])
    if request.method != "POST":
        raise PageError("Differences of ingested files are computed from the form (POST).")
    sides = [differences.ingested(user, data[f"upload{n}"]) if data.get(f"upload{n}")
             else differences.cataloged(data[f"file{n}"]) for n in ("1", "2")]
    try:
        result = differences.compare(*sides)
    except differences.DifferenceError as exc:
        raise PageError(str(exc)) from None
    return render(request, "interactive/difference.html", {"sides": sides, **result})


@page
def difference_files(request: HttpRequest, file1: str, file2: str) -> HttpResponse:
    storage.check_filename(file1)
    storage.check_filename(file2)
    try:
        result = differences.difference(file1, file2)
    except differences.DifferenceError as exc:
        raise PageError(str(exc)) from None
    sides = [differences.Side(name, storage.cache_path(name)) for name in (file1, file2)]
    return render(request, "interactive/difference.html", {"sides": sides, **result})
