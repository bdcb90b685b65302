"""Tell the operators when a scheduled job fails under Celery beat, as cron's MAILTO does for host/ jobs.

On the production stack beat runs the jobs, and a task that raises would only
reach the worker's log.  So a failing scheduled task is mailed to the
operators: once when it starts failing, again if it still fails a day later,
and once when it succeeds again.  The state lives in the Django cache
(memcached in production), shared by the worker's processes; when the cache
cannot say, a failure is mailed rather than kept quiet.  A job that
already mailed its own failure report raises JobFailed and is not mailed twice.
"""

from __future__ import annotations

import logging
import time

from celery.signals import task_failure, task_success
from django.conf import settings
from django.core.cache import cache

from operations.mailreport import JobReport, send

log = logging.getLogger(__name__)

REMIND_AFTER = 24 * 3600  # seconds between two mails about the same continuing failure
STATE_SECONDS = 30 * 24 * 3600
REASON_CHARS = 300


class JobFailed(RuntimeError):
    """A scheduled job's failure that the job itself has already reported to the operators."""


def scheduled_tasks() -> set[str]:
    return {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def _key(task: str) -> str:
    return f"operations.alerts.failing:{task}"


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def reason(exc: BaseException) -> str:
    """One line an operator can read: the exception's class and the first line of its message."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 3] + "..."


def job_failed(task: str, exc: BaseException) -> bool:
    """Record one failure of `task`; True when it was mailed (a new failure, or a reminder)."""
    now = time.time()
    why = reason(exc)
    state = {"since": now, "mailed": now, "failures": 1, "reason": why}
    stored = None if cache.add(_key(task), state, STATE_SECONDS) else cache.get(_key(task))
    if stored is not None:  # a known failure: mailed again only once a day
        state = {**stored, "failures": stored["failures"] + 1, "reason": why}
        remind = now - state["mailed"] >= REMIND_AFTER
        if remind:
            state["mailed"] = now
        cache.set(_key(task), state, STATE_SECONDS)
        if not remind:
            return False
    report = JobReport(f"scheduled job {task}", failures=[why])
    report.add("failure", f"Celery beat's job {task} failed at {_when(now)}:\n{why}\n\n"
                          f"Failing since {_when(state['since'])} ({state['failures']} failed runs). "
                          "The Celery worker's log has the traceback. You will be told when it succeeds "
                          "again, and reminded once a day while it keeps failing.")
    return _send(report)


def job_succeeded(task: str) -> bool:
    """Record a success of `task`; True when it ends a failure and that was mailed."""
    state = cache.get(_key(task))
    if state is None:
        return False
    cache.delete(_key(task))
    now = time.time()
    report = JobReport(f"scheduled job {task}",
                       summary=f"recovered: it succeeded at {_when(now)} after {state['failures']} failed runs")
    report.add("recovered", f"Celery beat's job {task} succeeded at {_when(now)}.\n"
                            f"It had failed since {_when(state['since'])}, {state['failures']} times; "
                            f"the last failure was:\n{state['reason']}")
    return _send(report)


def _send(report: JobReport) -> bool:
    try:
        return send(report)
    except Exception:
        log.exception("Could not mail %r to the operators", report.subject)
        return False


def _on_failure(sender=None, exception=None, **_signal) -> None:
    name = getattr(sender, "name", "")
    if name in scheduled_tasks() and not isinstance(exception, JobFailed):
        job_failed(name, exception)


def _on_success(sender=None, **_signal) -> None:
    name = getattr(sender, "name", "")
    if name in scheduled_tasks():
        job_succeeded(name)


def connect() -> None:
    """Listen to every Celery task's outcome in this process (OperationsConfig.ready)."""
    task_failure.connect(_on_failure, weak=False, dispatch_uid="operations.alerts.failure")
    task_success.connect(_on_success, weak=False, dispatch_uid="operations.alerts.success")
