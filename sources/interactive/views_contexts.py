"""Context history, all contexts and context tables."""

from __future__ import annotations

import re

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from locking.access import EDIT_CONTEXT_HISTORY, in_group

from interactive import catalog, contexts, contexts_table, storage
from interactive.models import INACTIVE_STATES, ContextHistory
from interactive.web import NotFound, PageError, page

ALL_CONTEXTS_PER_PAGE = 100
NUMBER_RE = re.compile(r"[0-9]{1,9}")  # ASCII digits only: int() refuses '²' and very long numbers


@never_cache
@page
def display_context_history(request: HttpRequest) -> HttpResponse:
    """Every change of the operational context, newest first, with two-context diff selection."""
    history = ContextHistory.objects.filter(state="latest").order_by("-start_date", "-id")
    return render(request, "interactive/context_history.html", {
        "history": history, "pointers": contexts.pointers(),
        "can_edit": in_group(request.user, EDIT_CONTEXT_HISTORY)})


@page
def display_all_contexts(request: HttpRequest) -> HttpResponse:
    """Every cataloged pmap, newest first, paged."""
    pmaps = (catalog.cataloged().filter(type="mapping", name__endswith=".pmap")
             .order_by("-name").only("name", "state", "delivery_date", "activation_date", "description",
                                     "rejected", "blacklisted", "catalog_link"))
    number = request.GET.get("page", "1")
    if not NUMBER_RE.fullmatch(number):
        raise PageError(f"Invalid page number {number[:20]!r}.")
    rows = Paginator(pmaps, ALL_CONTEXTS_PER_PAGE).get_page(int(number))
    return render(request, "interactive/all_contexts.html", {"rows": rows, "pointers": contexts.pointers()})


@page
def context_table(request: HttpRequest, mapping: str) -> HttpResponse:
    """A pmap or imap as references by instrument and type, or an rmap's match cases."""
    storage.check_filename(mapping)
    try:
        if mapping.endswith(".rmap"):
            return render(request, "interactive/rmap_table.html", {
                "mapping": mapping, "table": contexts_table.rmap_table(mapping)})
        rows = contexts_table.by_instrument(mapping)
    except contexts_table.TableError as exc:
        raise PageError(str(exc)) from None
    return render(request, "interactive/context_table.html", {"mapping": mapping, "instruments": rows})


@page
def context_table_index(request: HttpRequest, mapping: str, index: str) -> HttpResponse:
    """`/context_table/<mapping>/<n>`: the original's optional second argument, kept for old links.

    The original parsed <n> as a recursion depth (default 10) and then ignored
    it, always showing the whole table.  No client or page depends on it, so
    any number redirects to the table itself; the instrument sections are
    reached by the anchors `#instrument-<name>`.
    """
    storage.check_filename(mapping)
    if not NUMBER_RE.fullmatch(index):
        raise NotFound(f"Invalid context table section {index[:20]!r}: use a number, or no section at all.")
    record = catalog.get_record(mapping)
    if not record.is_mapping or record.state in INACTIVE_STATES:
        raise NotFound(f"'{mapping}' is not a cataloged mapping.")
    return redirect("context_table", mapping)
