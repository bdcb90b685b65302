"""Best references: for a pasted or uploaded dataset header, and explored from the rules."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from interactive import bestrefs, contexts
from interactive.page_forms import BestrefsForm, ExploreChoiceForm
from interactive.web import PageError, page


def _default_context() -> str:
    return contexts.get_pointer("latest") or contexts.get_pointer("edit")


@page
def bestrefs_index(request: HttpRequest) -> HttpResponse:
    """Context choice plus header keywords or a FITS dataset; POST computes."""
    choices = bestrefs.context_choices()
    if request.method != "POST":
        form = BestrefsForm(contexts=choices, initial={"context": _default_context()})
        return render(request, "interactive/bestrefs.html", {"form": form})
    form = BestrefsForm(request.POST, request.FILES, contexts=choices)
    if not form.is_valid():
        return render(request, "interactive/bestrefs.html", {"form": form}, status=400)
    data = form.cleaned_data
    try:
        if data.get("dataset"):
            header = bestrefs.header_from_upload(data["dataset"])
        else:
            header = bestrefs.parse_header_text(data["header"])
        result = bestrefs.best_references(data["context"], header)
    except bestrefs.HeaderError as exc:
        form.add_error(None, str(exc))
        return render(request, "interactive/bestrefs.html", {"form": form}, status=400)
    return render(request, "interactive/bestrefs_result.html", {"result": result})


@page
def bestrefs_explore(request: HttpRequest) -> HttpResponse:
    """Choose a context and instrument; the next step shows that instrument's parameter menus."""
    form = ExploreChoiceForm(request.GET or None, contexts=bestrefs.context_choices(),
                             initial={"context": _default_context()})
    menus = None
    if form.is_bound:
        if not form.is_valid():
            return render(request, "interactive/bestrefs_explore.html", {"form": form}, status=400)
        try:
            menus = bestrefs.explore_menus(form.cleaned_data["context"], form.cleaned_data["instrument"])
        except bestrefs.HeaderError as exc:
            raise PageError(str(exc)) from None
    return render(request, "interactive/bestrefs_explore.html", {
        "form": form, "menus": menus,
        "context": form.cleaned_data["context"] if menus is not None else "",
        "instrument": form.cleaned_data["instrument"] if menus is not None else ""})


@page
def bestrefs_explore_compute(request: HttpRequest) -> HttpResponse:
    """Best references for the parameters chosen from the menus (POST)."""
    if request.method != "POST":
        raise PageError("Choose an instrument and its parameters on the Explore Best References page first.")
    context = request.POST.get("context", "")
    instrument = request.POST.get("instrument", "")
    params = {key[len("parkey_"):]: value for key, value in request.POST.items() if key.startswith("parkey_")}
    try:
        header = bestrefs.explore_header(context, instrument, params, request.POST.get("date", ""),
                                         request.POST.get("time", ""))
        result = bestrefs.best_references(context, header)
    except bestrefs.HeaderError as exc:
        raise PageError(str(exc)) from None
    return render(request, "interactive/bestrefs_result.html", {"result": result})
