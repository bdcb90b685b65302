"""The operations cron jobs as Celery tasks, for deployments where Celery beat replaces cron."""

import os
from pathlib import Path

from celery import shared_task
from django.conf import settings

from operations import nightly, orphans, publish, reports
from operations.alerts import JobFailed
from operations.mailreport import JobReport, send

MAILED_LINES = 200  # of the verify report: the first stray, missing and corrupt files


@shared_task(name="operations.publish_cache")
def publish_cache() -> str:
    return publish.publish()


@shared_task(name="operations.clear_web_cache")
def clear_web_cache() -> str:
    from operations.webcache import clear

    return clear(prime=True)


@shared_task(name="operations.verify_cache")
def verify_cache() -> str:
    """host/verify_cache for beat: a cache that disagrees with the catalog is mailed and fails the task."""
    check = orphans.check(check_sha1sum=True)
    report = JobReport("verify cache", summary=check.summary())
    if not check.clean:
        report.failures.append(check.summary())
        report.add("cache consistency", "\n".join(check.lines()[:MAILED_LINES] + [check.summary()]))
        send(report)
    return _subject_or_failure(report)


@shared_task(name="operations.nightly")
def nightly_report() -> str:
    return _subject_or_failure(nightly.run())


@shared_task(name="operations.status_report")
def status_report(period: str) -> str:
    """host/weekly_status and host/monthly_status for beat: `period` is weekly or monthly."""
    return reports.status_report(period).subject


@shared_task(name="operations.certify_cache")
def certify_cache() -> str:
    return _subject_or_failure(reports.certify_cache())


def _subject_or_failure(report) -> str:
    """The report's subject as the task's result; a report with failures fails the task (beat shows it).

    The report has been mailed, so the failure is not mailed again (operations.alerts)."""
    if report.failures:
        raise JobFailed(report.subject)
    return report.subject


def _group_cache() -> Path:
    """The shared cache of the worker's $CRDS_GROUP_CACHE."""
    target = os.environ.get("CRDS_GROUP_CACHE", "")
    if not target:
        raise RuntimeError("CRDS_GROUP_CACHE (the shared cache directory) is not set for the worker")
    return Path(target)


@shared_task(name="operations.sync_group_cache")
def sync_group_cache() -> str:
    """host/sync_ops_to_grp for beat: the shared cache is $CRDS_GROUP_CACHE of the worker."""
    if settings.CRDS_USECASE != "ops":
        return f"usecase {settings.CRDS_USECASE} is not ops: nothing done"
    return publish.sync_group_cache(_group_cache())


@shared_task(name="operations.verify_group_cache")
def verify_group_cache() -> str:
    """host/verify_group_cache for beat: errors are mailed and fail the task."""
    if settings.CRDS_USECASE != "ops":
        return f"usecase {settings.CRDS_USECASE} is not ops: nothing done"
    return _subject_or_failure(publish.verify_group_cache(_group_cache()))
