"""Home page: contexts, recent history, the operational references; more for logged-in users."""

from __future__ import annotations

import functools
import logging
import os

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from locking import service as locks

from interactive import cache, contexts, contexts_table, home_contexts, storage
from interactive.instruments import instruments
from interactive.models import ContextHistory
from interactive.web import page

log = logging.getLogger(__name__)

HISTORY_ROWS = 4

# (label, URL name, who may use it): the services offered to a logged-in user.
SERVICES = (
    ("Upload files", "upload_page", "user"),
    ("Certify files", "certify", "user"),
    ("Batch submit references", "batch_submit_references", "file_submission"),
    ("ReDCaT submission form", "redcat_submit", "file_submission"),
    ("Submit references", "submit_reference", "file_submission"),
    ("Submit mappings", "submit_mapping", "file_submission"),
    ("Delete references", "delete_reference", "file_submission"),
    ("Add existing references", "add_existing_reference", "file_submission"),
    ("Create contexts", "create_contexts", "superuser"),
    ("Mark files bad", "mark_bad", "file_submission"),
    ("Set context", "set_default_context", "file_submission"),
    ("Submission history", "redcat_list", "user"),
    ("Delivery status", "delivery_status", "user"),
    ("Request statistics", "request_stats", "superuser"),
    ("Administration", "admin:index", "superuser"),
)


def _allowed(user, who: str) -> bool:
    if who == "user" or user.is_superuser:
        return True
    if who == "superuser":
        return False
    return user.groups.filter(name=who).exists()


def services(user) -> list[tuple[str, str]]:
    """(label, URL) of the services this user's groups allow and this server provides."""
    offered = []
    for label, name, who in SERVICES:
        if not _allowed(user, who):
            continue
        try:
            offered.append((label, reverse(name)))
        except NoReverseMatch:
            continue
    return offered


def ingest_files(username: str) -> list[tuple[str, int]]:
    """(name, size) of the files waiting in the user's ingest area."""
    try:
        folder = storage.ingest_dir(username)
        entries = sorted(os.scandir(folder), key=lambda e: e.name) if folder.is_dir() else []
    except (OSError, storage.BadName):
        return []
    return [(e.name, e.stat().st_size) for e in entries if e.is_file(follow_symlinks=False)]


def user_panel(request: HttpRequest, latest: str) -> dict:
    """What only logged-in users see: their lock, ingest area, services and the remote caches."""
    if not request.user.is_authenticated:
        return {}
    name = request.user.get_username()
    return {"lock": locks.instrument_lock(name), "ingest": ingest_files(name), "services": services(request.user),
            "remotes": home_contexts.remote_rows(latest)}


def operational_references(context: str) -> list[contexts_table.InstrumentRows]:
    """The references of `context` by instrument and type; none if it cannot be read."""
    if not context:
        return []
    try:
        return contexts_table.by_instrument(context)
    except Exception:  # an unreadable context must not take the home page down
        log.exception("Cannot tabulate the operational context %s", context)
        return []


@never_cache
@page
def index(request: HttpRequest) -> HttpResponse:
    """Home page: the observatory, its operational and edit contexts, its instruments."""
    pointers = contexts.pointers()
    latest = pointers["latest"]
    return render(request, "interactive/index.html", {
        "latest_context": latest,
        "edit_context": pointers["edit"],
        "build_context": pointers["build"],
        "build_cal_ver": home_contexts.build_cal_ver(pointers["build"]),
        "instruments": instruments(),
        "history": ContextHistory.objects.filter(state="latest").order_by("-start_date", "-id")[:HISTORY_ROWS],
        # Called by the template only when its cached fragment has expired.
        "references": functools.partial(operational_references, latest),
        "generation": cache.generation(),
        **user_panel(request, latest),
    })
