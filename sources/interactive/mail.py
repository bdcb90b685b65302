"""Notification e-mails (server-behaviour.md §10).

Subjects start with `CRDS <OBS> <USECASE>`; the acting user is always a
recipient.  A mail failure is logged and never fails the action that sent it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail

log = logging.getLogger(__name__)


def subject_prefix() -> str:
    return f"CRDS {settings.CRDS_OBSERVATORY.upper()} {settings.CRDS_USECASE.upper()}"


def person(username: str) -> str:
    """The user's first and last name, or the account name when they are not recorded."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        return username or "unknown"
    return user.get_full_name() or user.get_username()


def user_address(username: str) -> list[str]:
    user = get_user_model().objects.filter(username=username).first()
    return [user.email] if user is not None and user.email else []


def send(subject: str, body: str, username: str, confirm_list: bool = False, extra: tuple[str, ...] = ()) -> bool:
    """Send `subject` (prefixed) to the status or confirm list plus the acting user; True if sent.

    `extra`: further addresses, such as the ReDCaT form's other_email list.
    """
    addresses = settings.CRDS_STATUS_CONFIRM_ADDRESSES if confirm_list else settings.CRDS_STATUS_TO_ADDRESSES
    recipients = list(dict.fromkeys(list(addresses) + user_address(username) + list(extra)))
    if not recipients:
        log.info("No recipients for e-mail %r", subject)
        return False
    try:
        send_mail(f"{subject_prefix()} {subject}", body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:
        log.exception("Sending e-mail %r to %s failed", subject, recipients)
        return False
    return True
