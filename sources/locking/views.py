"""Login with an instrument lock, logout, and the anonymous lock status JSON."""

from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.contrib import auth
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods

from locking import service
from locking.forms import LoginForm

_USERNAME_RE = re.compile(r"^[\w.@+\-]{1,150}\Z")


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if target != "/" and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                         require_https=request.is_secure()):
        return target
    return reverse("index")


def _error_text(form: LoginForm) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors) or "Login failed."


@never_cache
@ensure_csrf_cookie
@csrf_protect
@require_http_methods(["GET", "POST"])
def login(request):
    """Log in; choosing an instrument takes its lock, and a held lock refuses the login."""
    error = ""
    if request.method == "POST":
        form = LoginForm(request, data=request.POST)
        if form.is_valid():
            user = form.get_user()
            auth.login(request, user)
            # An absolute expiry: later session changes (jpoll channel, delete token) must not extend it (§8.3).
            request.session.set_expiry(datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE))
            instrument = form.cleaned_data["instrument"]
            if instrument == "none":
                return redirect(_safe_next(request))
            try:
                service.acquire_instrument(user.get_username(), instrument)
            except service.ResourceLockedError as exc:
                auth.logout(request)
                error = str(exc)
            else:
                return redirect(_safe_next(request))
        else:
            error = _error_text(form)
    else:
        form = LoginForm(request)
    return render(request, "locking/login.html", {"form": form, "error_message": error, "next": _safe_next(request)})


@never_cache
@require_http_methods(["GET", "POST"])
def logout(request):
    """Log out (a GET too, as `crds submit --logout` sends one) and release the user's locks."""
    if request.user.is_authenticated:
        service.release_all(request.user.get_username())
    auth.logout(request)
    return redirect("index")


@never_cache
@require_GET
def lock_status(request, user: str = ""):
    """Anonymous JSON: the client reads it before logging in (crds-protocol.md §7.3)."""
    user = user or (request.user.get_username() if request.user.is_authenticated else "")
    if not _USERNAME_RE.match(user):
        return JsonResponse({"name": "", "user": user[:150], "type": service.INSTRUMENT, "status": "error",
                             "exception": "invalid or missing user name."})
    return JsonResponse(service.status(user))
