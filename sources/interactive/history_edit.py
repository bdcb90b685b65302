"""Rewriting the description of one context-history row (server-behaviour.md §4.2).

Only the description changes: dates, contexts and pointers stay as they are.
The edit is recorded in the meta event log beside the pointer changes, and
saving the row starts a new catalog generation (interactive.cache), so server
info, the home page and the history page show the new text at once.
"""

from __future__ import annotations

from django.db import transaction

from interactive import contexts
from interactive.models import ContextHistory
from interactive.set_context import DESCRIPTION_RE
from interactive.views_contexts import NUMBER_RE


class HistoryEditError(Exception):
    """The description cannot be rewritten; the message says why."""


class UnknownRow(HistoryEditError):
    """No history row matches the id and context of the request."""


def history_row(history_id: str, context: str) -> ContextHistory:
    """The history row `history_id`, which must be a row of `context`."""
    if not NUMBER_RE.fullmatch(history_id):
        raise UnknownRow(f"Invalid context history id {history_id[:20]!r}: use the number of a history row.")
    row = ContextHistory.objects.filter(id=int(history_id)).first()
    if row is None:
        raise UnknownRow(f"There is no context history row {history_id}.")
    if row.context != context:
        raise UnknownRow(f"Context history row {history_id} is for '{row.context}', not '{context[:128]}'.")
    return row


def check_description(description: str) -> str:
    """The description as the submission forms accept it, else HistoryEditError."""
    description = description.strip()
    if not description:
        raise HistoryEditError("A description is required.")
    if not DESCRIPTION_RE.match(description):
        raise HistoryEditError("The description must be up to 2000 letters, digits, spaces and . _ / , = - +")
    return description


def rewrite_description(row: ContextHistory, description: str, user: str) -> ContextHistory:
    """Replace the description of `row`; the row and the meta event log change together or not at all."""
    description = check_description(description)
    with transaction.atomic():
        locked = ContextHistory.objects.select_for_update().get(pk=row.pk)
        if locked.description == description:
            return locked
        old, locked.description = locked.description, description
        locked.save(update_fields=["description"])
        try:
            contexts.meta_event(f"context history row {locked.pk} ({locked.state} {locked.context}) description "
                                f"changed by {user} from {old!r} to {description!r}")
        except OSError:
            raise HistoryEditError("The change could not be recorded in the server's event log, so nothing "
                                   "was changed. Please tell the CRDS operators.") from None
    return locked
