"""Which of confirm, cancel and force the READY page offers its viewer (server-behaviour.md §5.4, §5.5).

The page offers a button only when pressing it would pass the checks of
/submit_confirm/: membership of file_submission, a live instrument lock
(superusers may work unlocked) and confirm.check_lock.  Buttons that only the
viewer's current lock makes usable are marked, so the page can hide them
when the header's lock poll reports that lock dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from locking import service as locks
from locking.access import FILE_SUBMISSION, in_group

from interactive import confirm
from interactive.models import StoredResult


@dataclass(frozen=True)
class ReadyButtons:
    usable: tuple[str, ...] = ()      # the buttons the viewer may press now
    lock_bound: tuple[str, ...] = ()  # those usable only while the viewer's current lock lasts
    lock_name: str = ""               # that lock as /lock_status/ reports it
    lock_created: str = ""

    @property
    def awaiting_lock(self) -> bool:
        """The decision is still open but this viewer cannot make it without (another) lock."""
        return not self.usable


def _permitted(result: StoredResult, user: str, lock, is_superuser: bool) -> tuple[str, ...]:
    if lock is None and not is_superuser:
        return ()
    allowed = []
    for button in confirm.BUTTONS:
        try:
            confirm.check_lock(result, button, user, lock, is_superuser)
        except confirm.ConfirmError:
            continue
        allowed.append(button)
    return tuple(allowed)


def ready_buttons(result: StoredResult, viewer) -> ReadyButtons | None:
    """The buttons for `viewer`; None once the submission was decided or cannot be confirmed."""
    if result.parameters.get("disposition", "") != "":
        return None
    if not in_group(viewer, FILE_SUBMISSION):
        return ReadyButtons()
    user = viewer.get_username()
    lock = locks.instrument_lock(user)
    usable = _permitted(result, user, lock, viewer.is_superuser)
    unlocked = _permitted(result, user, None, viewer.is_superuser)
    bound = tuple(button for button in usable if button not in unlocked)
    if not bound:
        return ReadyButtons(usable)
    status = locks.status(user)
    return ReadyButtons(usable, bound, status.get("name", ""), status.get("created_on", ""))
