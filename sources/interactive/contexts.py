"""Context pointers (latest, edit, versions, build) and their history."""

from __future__ import annotations

import datetime

from django.db import transaction

from interactive.models import CONTEXT_KINDS, ContextHistory, ContextPointer

# The 2019 server called "latest" "operational"; both names are accepted.
KIND_ALIASES = {"operational": "latest"}


def normalise_kind(kind: str) -> str:
    kind = KIND_ALIASES.get(kind, kind)
    if kind not in CONTEXT_KINDS:
        raise ValueError(f"Unknown context kind {kind!r}: use one of {', '.join(CONTEXT_KINDS)}.")
    return kind


def get_pointer(kind: str) -> str:
    """The context a pointer names, or "" when it was never set."""
    row = ContextPointer.objects.filter(kind=normalise_kind(kind)).first()
    return row.context if row else ""


def pointers() -> dict[str, str]:
    found = {row.kind: row.context for row in ContextPointer.objects.all()}
    return {kind: found.get(kind, "") for kind in CONTEXT_KINDS}


@transaction.atomic
def set_pointer(kind: str, context: str, description: str = "",
                when: datetime.datetime | None = None) -> bool:
    """Move a pointer and add a history row; False if it already named `context`."""
    kind = normalise_kind(kind)
    row, _ = ContextPointer.objects.select_for_update().get_or_create(kind=kind, defaults={"context": ""})
    if row.context == context:
        return False
    row.context = context
    row.save()
    ContextHistory.objects.create(
        start_date=when or datetime.datetime.now(), context=context, state=kind, description=description)
    return True


def public_history() -> list[ContextHistory]:
    """The latest-context history, newest first: what clients and the home page show."""
    return list(ContextHistory.objects.filter(state="latest").order_by("-start_date", "-id"))
