"""Browse Database, the file page and Recent Activity."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from interactive import activity, browse, filedetails
from interactive.page_forms import BrowseForm, RecentActivityForm
from interactive.web import PageError, page

DEFAULT_PER_PAGE = 50


def _query_string(request: HttpRequest, **changes) -> str:
    """The current GET query with some parameters replaced (for sort and page links)."""
    params = request.GET.copy()
    for key, value in changes.items():
        params[key] = value
    return params.urlencode()


@page
def browse_db(request: HttpRequest) -> HttpResponse:
    """Filters over the catalog and one sorted page of results."""
    data = None
    if request.GET:
        data = request.GET.copy()
        data.setdefault("per_page", str(DEFAULT_PER_PAGE))
    form = BrowseForm(data)
    result = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            result = browse.page(form.filters(), sort=data["sort"], number=data.get("page") or 1,
                                 per_page=data.get("per_page") or DEFAULT_PER_PAGE)
        except browse.BadQuery as exc:
            raise PageError(str(exc)) from None
    status = 400 if form.is_bound and form.errors else 200
    columns = [(word, "-" + word if result and result.sort == word else word) for word in browse.COLUMNS]
    return render(request, "interactive/browse_db.html", {
        "form": form, "result": result, "columns": columns,
        "sort_links": {word: _query_string(request, sort=target, page=1) for word, target in columns},
        "prev_link": _query_string(request, page=result.number - 1) if result else "",
        "next_link": _query_string(request, page=result.number + 1) if result else "",
        "last_link": _query_string(request, page=result.num_pages) if result else "",
        "first_link": _query_string(request, page=1) if result else "",
    }, status=status)


@page
def browse_file(request: HttpRequest, filename: str) -> HttpResponse:
    """Everything known about one cataloged file."""
    info = filedetails.details(filename)
    return render(request, "interactive/browse_file.html", {"info": info, "record": info["record"]})


@page
def uses(request: HttpRequest, filename: str) -> HttpResponse:
    """The mappings that use a file, directly or through others, up to the pipeline contexts."""
    levels = filedetails.uses(filename)
    return render(request, "interactive/uses.html", {"filename": filename, "levels": levels})


@page
def recent_activity_input(request: HttpRequest) -> HttpResponse:
    form = RecentActivityForm(show_user=request.user.is_authenticated)
    return render(request, "interactive/recent_activity_input.html", {"form": form})


@page
def recent_activity_query(request: HttpRequest) -> HttpResponse:
    """Audit rows matching the filters; who acted is shown to logged-in users only."""
    show_user = request.user.is_authenticated
    form = RecentActivityForm(request.GET, show_user=show_user)
    if not form.is_valid():
        return render(request, "interactive/recent_activity_input.html", {"form": form}, status=400)
    data = form.cleaned_data
    filters = activity.ActivityFilters(
        action=data.get("action") or "", instrument=data.get("instrument") or "",
        filekind=data.get("filekind") or "", filename=data.get("filename") or "",
        user=data.get("user") or "" if show_user else "",
        date_from=data.get("date_from"), date_to=data.get("date_to"), mass_import=bool(data.get("mass_import")))
    rows = activity.page(filters, data.get("page") or 1)
    return render(request, "interactive/recent_activity_query.html", {
        "form": form, "rows": rows, "show_user": show_user,
        "prev_link": _query_string(request, page=rows.number - 1),
        "next_link": _query_string(request, page=rows.number + 1),
    })
