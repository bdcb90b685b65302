"""Open channels, write progress messages, pull them; the public surface of jpoll (§9).

Writers are long-running views and background tasks; readers are the browser
(`/jpoll/pull_messages/`) and the `crds submit` client (JSON-RPC).  Message ids
are the database's auto-increment keys, so they strictly increase.  Write
messages outside any long transaction of the caller, or readers see them only
at its commit.
"""

from __future__ import annotations

import datetime
import html
import logging
import re
import uuid

from django.db.models import Max

from jpoll.models import Channel, Message

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
SESSION_KEY = "jpoll_key"
MAX_AGE = datetime.timedelta(days=1)  # channels older than this are removed by expire()
ABORTED_TEXT = "External agent requested calling process termination."

OK, FAILED, CANCELLED = 0, 1, 3
MAX_ID = 2**63 - 1  # the largest message id a database column holds


class ChannelNotFound(Exception):
    def __init__(self, key: str):
        super().__init__(f"Channel key {str(key)[:40]!r} not found.")


class BadSinceId(ValueError):
    def __init__(self):
        super().__init__("since_id must be a message id: an integer, or -1 for every message.")


class Aborted(Exception):
    """Raised at the next write after someone asked the writer to stop."""

    def __init__(self):
        super().__init__(ABORTED_TEXT)


def open_channel(user: str = "") -> str:
    """Create a channel with a fresh UUID4 key and return the key."""
    key = str(uuid.uuid4())
    Channel.objects.filter(key=key).delete()
    Channel.objects.create(key=key, user=user)
    return key


def session_channel(request) -> str:
    """The request session's current channel, created if missing or unknown."""
    key = request.session.get(SESSION_KEY, "")
    user = request.user.get_username() if request.user.is_authenticated else ""
    if not KEY_RE.match(key or ""):
        key = open_channel(user)
        request.session[SESSION_KEY] = key
    else:
        Channel.objects.get_or_create(key=key, defaults={"user": user})
    return key


def _channel(key: str) -> Channel:
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise ChannelNotFound(key)
    try:
        return Channel.objects.get(key=key)
    except Channel.DoesNotExist:
        raise ChannelNotFound(key) from None


def _write(key: str, type_: str, data, stoppable: bool = True) -> None:
    """Store one message.  Abort requests propagate from a stoppable write; any other failure is
    logged, never raised."""
    try:
        channel = _channel(key)
        if channel.aborted and stoppable:
            raise Aborted()
        Message.objects.create(channel=channel, type=type_, data=data)
    except Aborted:
        raise
    except Exception:
        log.exception("jpoll write to %s failed", key)


def write(key: str, text: str) -> None:
    """A log line for the reader; HTML-escaped."""
    _write(key, "log_message", html.escape(str(text)))


def done(key: str, status: int, result: str) -> None:
    """The final message: status 0 and the absolute result URL, or 1 and the error text.

    Sent when the work is over, so an abort cannot stop anything any more: it is
    stored all the same and never raises, and finished work is never reported as an error.
    """
    _write(key, "done", {"status": int(status), "result": html.escape(result) if isinstance(result, str) else result},
           stoppable=False)


def fail(key: str, text: str) -> None:
    """End a run that failed: a `done` with status 1, as the original and the browser expect."""
    done(key, FAILED, text)


def abort(key: str) -> None:
    """Ask the writer of `key` to stop at its next write."""
    Channel.objects.filter(pk=_channel(key).pk).update(aborted=True)


def pull(key: str, since_id) -> list[dict]:
    """Messages with id > `since_id`, in order; a non-integer `since_id` means "since the last pull"."""
    channel = _channel(key)
    since = _since(since_id, channel.last_returned)
    rows = list(Message.objects.filter(channel=channel, id__gt=since).order_by("id"))
    if rows:
        Channel.objects.filter(pk=channel.pk, last_returned__lt=rows[-1].id).update(last_returned=rows[-1].id)
    return [{
        "type": m.type,
        "id": m.id,
        "time": m.time.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "data": m.data,
        "channel": key,
    } for m in rows]


def _since(since_id, last_returned: int) -> int:
    """`since_id` as an id; a non-integer means `last_returned`, an infinite or huge number is refused."""
    try:
        since = int(since_id)
    except (TypeError, ValueError):
        return last_returned
    except OverflowError:
        raise BadSinceId() from None
    if abs(since) > MAX_ID:
        raise BadSinceId()
    return since


def last_id(key: str) -> int:
    """The id of the channel's newest message (0 when empty); raises ChannelNotFound."""
    return Message.objects.filter(channel=_channel(key)).aggregate(m=Max("id"))["m"] or 0


def expire(max_age: datetime.timedelta = MAX_AGE) -> int:
    """Remove channels (and their messages) older than `max_age`; the periodic job."""
    old = Channel.objects.filter(created__lt=datetime.datetime.now() - max_age)
    Message.objects.filter(channel__in=old).delete()
    return old.delete()[0]
