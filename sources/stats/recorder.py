"""Record every request cheaply: rows are buffered in memory and written in bulk.

A request only appends a tuple to a list.  The batch is written after a
response has been sent (Django's `request_finished` signal fires when the
server closes the response), at most every FLUSH_SECONDS or BATCH_SIZE rows,
and at process exit.
"""

from __future__ import annotations

import atexit
import datetime
import logging
import threading
import time

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
FLUSH_SECONDS = 30.0

_lock = threading.Lock()
_buffer: list[tuple] = []
_last_flush = time.monotonic()


def record(path: str, method: str, user: str, status: int, duration: float) -> None:
    """Remember one request (called by the middleware)."""
    row = (datetime.datetime.now(), path[:255], method[:80], user[:150], status, duration)
    with _lock:
        _buffer.append(row)


def pending() -> int:
    return len(_buffer)


def flush() -> int:
    """Write the buffered rows now; return how many were written.  Failures are logged, never raised."""
    global _last_flush
    from stats.models import RequestRecord

    with _lock:
        rows = _buffer[:]
        _buffer.clear()
        _last_flush = time.monotonic()
    if not rows:
        return 0
    try:
        RequestRecord.objects.bulk_create(
            [RequestRecord(time=t, path=p, method=m, user=u, status=s, duration=d) for t, p, m, u, s, d in rows],
            batch_size=500)
    except Exception:
        log.exception("Could not write %d request statistics rows", len(rows))
        return 0
    return len(rows)


def flush_if_due(**_signal_kwargs) -> None:
    if len(_buffer) >= BATCH_SIZE or (_buffer and time.monotonic() - _last_flush >= FLUSH_SECONDS):
        flush()


atexit.register(flush)
