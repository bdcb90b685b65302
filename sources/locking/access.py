"""Access decorators for views: group membership and instrument locks (server-behaviour.md §15)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from locking import service

FILE_SUBMISSION = "file_submission"
EDIT_CONTEXT_HISTORY = "edit_context_history"


def in_group(user, group: str) -> bool:
    """True for superusers and members of `group`."""
    return user.is_authenticated and (user.is_superuser or user.groups.filter(name=group).exists())


def refuse(request, message: str) -> HttpResponse:
    """An error page whose div#error_message the `crds submit` client reports.

    Status 200, as the original's error_trap: the client reads the div only from a successful
    response and reports any other status as a bare "HTTP error status N".
    """
    return render(request, "locking/refused.html", {"error_message": message})


def group_required(group: str) -> Callable:
    """Require login and membership of `group` (superusers pass)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not in_group(request.user, group):
                return refuse(request, f"You must be a member of group '{group}' to use this page.")
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def instrument_lock_required(view: Callable) -> Callable:
    """Require login and a live instrument lock (superusers may work unlocked).

    The view finds the lock as `request.instrument_lock` (None for an unlocked superuser).
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        lock = service.instrument_lock(request.user.get_username())
        if lock is None and not request.user.is_superuser:
            return refuse(request, "You must log in with an instrument lock to use this page; "
                                   "your lock is missing or has expired.")
        request.instrument_lock = lock
        return view(request, *args, **kwargs)

    return login_required(wrapped)
