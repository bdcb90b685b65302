"""The weekly and monthly status reports and the weekly certify of the newest context (§12 cron).

The original mailed `crds_weekly` (Mondays) and `crds_monthly` (the 1st): what happened on the
server in the week or month before — contexts, deliveries, audited actions, pipeline contexts,
requests — and what it holds now.  `crds_certify_cache 1 --exist` certified the newest context
of the server's cache with the crds library, offline, checking that every file it names exists.
Each is mailed to the operators; none runs while the server is offline for maintenance.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tempfile

from django.conf import settings
from django.db.models import Count, Q, Sum
from interactive import catalog, storage
from interactive.models import AuditAction, ContextHistory, ContextPointer, RemoteContext
from jsonapi import server_info
from stats.models import RequestRecord

from operations import backup, nightly, publish
from operations.mailreport import JobReport, send

PERIODS = ("weekly", "monthly")
TOP = 10
CERTIFY_SECONDS = 6 * 3600


class ReportError(Exception):
    """The report cannot be made as asked (bad period or date)."""


def period(kind: str, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of the report run on `day`: the 7 days before it, or the calendar month before its month."""
    if kind not in PERIODS:
        raise ReportError(f"Unknown report period {kind[:40]!r}: use weekly or monthly.")
    if kind == "weekly":
        end = datetime.datetime.combine(day, datetime.time())
        return end - datetime.timedelta(days=7), end
    end = datetime.datetime.combine(day.replace(day=1), datetime.time())
    start = (end - datetime.timedelta(days=1)).replace(day=1)
    return start, end


def _label(kind: str, start: datetime.datetime, end: datetime.datetime) -> str:
    if kind == "monthly":
        return f"{start:%Y-%m}"
    return f"{start:%Y-%m-%d} to {end - datetime.timedelta(days=1):%Y-%m-%d}"


def _first_line(text: str, width: int = 100) -> str:
    line = (text or "").strip().splitlines()
    return line[0][:width] if line else ""


def _contexts(start: datetime.datetime, end: datetime.datetime) -> tuple[str, int]:
    pointers = {p.kind: p.context for p in ContextPointer.objects.all()}
    lines = [f"now: {', '.join(f'{kind} {pointers[kind]}' for kind in sorted(pointers)) or 'no contexts'}"]
    changes = ContextHistory.objects.filter(start_date__gte=start, start_date__lt=end).order_by("start_date", "id")
    for row in changes:
        lines.append(f"{row.start_date:%Y-%m-%d %H:%M:%S}  {row.state:8} {row.context}  {_first_line(row.description)}")
    if not changes:
        lines.append("no context changes")
    return "\n".join(lines), len(changes)


def _deliveries(start: datetime.datetime, end: datetime.datetime) -> tuple[str, int, int]:
    """Delivery catalogs audited in the period, and the files delivered in it by type and instrument."""
    audited = AuditAction.objects.filter(date__gte=start, date__lt=end)
    catalogs = audited.filter(filename__endswith=".cat").order_by("date", "id")
    lines = [f"{row.date:%Y-%m-%d %H:%M:%S}  {row.filename}  {row.action} by {row.user}: {_first_line(row.why)}"
             for row in catalogs]
    files = catalog.cataloged().filter(delivery_date__gte=start, delivery_date__lt=end)
    by_kind = files.values("type", "instrument").annotate(files=Count("id"), bytes=Sum("size")).order_by(
        "type", "instrument")
    for row in by_kind:
        lines.append(f"{row['files']:6} {row['type']}s of {row['instrument'] or 'the observatory'} "
                     f"({max(row['bytes'] or 0, 0):,} bytes)")
    count = sum(row["files"] for row in by_kind)
    if not lines:
        lines.append("no deliveries")
    return "\n".join(lines), len(catalogs), count


def _activity(start: datetime.datetime, end: datetime.datetime) -> str:
    actions = (AuditAction.objects.filter(date__gte=start, date__lt=end).values("action")
               .annotate(rows=Count("id"), users=Count("user", distinct=True)).order_by("-rows", "action"))
    return "\n".join(f"{row['rows']:6} {row['action']} ({row['users']} user(s))" for row in actions) or "none"


def _pipelines(operational: str) -> tuple[str, list[str]]:
    """Each remote cache's echoed context; those not on the operational context are problems."""
    lines, behind = [], []
    for remote in RemoteContext.objects.order_by("name"):
        mark = "" if remote.context == operational else "  <- not the operational context"
        if mark:
            behind.append(remote.name)
        lines.append(f"{remote.name}: {remote.kind} {remote.context or '(nothing pushed)'} "
                     f"at {remote.updated:%Y-%m-%d %H:%M}{mark}")
    return "\n".join(lines) or "no pipeline has pushed a context", behind


def _requests(start: datetime.datetime, end: datetime.datetime) -> str:
    rows = RequestRecord.objects.filter(time__gte=start, time__lt=end)
    totals = rows.aggregate(requests=Count("id"), errors=Count("id", filter=Q(status__gte=500)),
                            downloads=Count("id", filter=Q(path__contains="/get/") | Q(
                                path__contains="/unchecked_get/")),
                            users=Count("user", distinct=True, filter=~Q(user="")))
    lines = [f"{totals['requests']} requests, {totals['errors']} server errors, {totals['downloads']} downloads, "
             f"{totals['users']} signed-in user(s)"]
    methods = (rows.exclude(method="").values("method").annotate(calls=Count("id"))
               .order_by("-calls", "method")[:TOP])
    lines += [f"{row['calls']:8} {row['method']}" for row in methods]
    return "\n".join(lines)


def _holdings() -> str:
    records = catalog.cataloged()
    totals = records.aggregate(
        mappings=Count("id", filter=Q(type="mapping")), references=Count("id", filter=Q(type="reference")),
        held=Count("id", filter=Q(present=True)), bad=Count("id", filter=Q(blacklisted=True) | Q(rejected=True)),
        size=Sum("size", filter=Q(present=True, size__gt=0)))
    return (f"{totals['mappings']} mappings and {totals['references']} references cataloged; {totals['held']} held "
            f"in the cache ({totals['size'] or 0:,} bytes); {totals['bad']} marked bad")


def status_report(kind: str, day: datetime.date | None = None, send_mail: bool = True) -> JobReport:
    """The weekly or monthly status report for the period before `day` (default today), mailed."""
    start, end = period(kind, day or datetime.date.today())
    label = _label(kind, start, end)
    report = JobReport(f"{kind} status {label}")
    if backup.is_offline():
        report.summary = f"not made: server offline for maintenance ({backup.offline_flag()})"
        return report
    operational = server_info.catalog_info()["operational_context"]
    contexts, changes = _contexts(start, end)
    deliveries, catalogs, files = _deliveries(start, end)
    pipelines, behind = _pipelines(operational)
    report.summary = f"{catalogs} deliveries, {files} files, {changes} context changes"
    report.add("server", f"{settings.CRDS_OBSERVATORY} {settings.CRDS_USECASE} at {settings.CRDS_PUBLIC_URL}; "
                         f"period {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}: {report.summary}")
    report.add("contexts", contexts)
    report.add("deliveries", deliveries)
    report.add("audited actions", _activity(start, end))
    report.add("pipeline contexts", pipelines)
    report.add("requests", _requests(start, end))
    report.add("holdings", _holdings())
    report.add("disk usage", nightly.disk_usage())
    if behind:
        report.problems.append(f"{len(behind)} pipeline(s) not on {operational}: {', '.join(behind[:5])}")
    if send_mail:
        send(report)
    return report


def certify_env() -> dict[str, str]:
    """The crds library offline on the server's own cache, never writing to it."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CRDS_") and key != "DJANGO_SETTINGS_MODULE"}
    env.update(CRDS_PATH=str(settings.CRDS_FILE_CACHE), CRDS_MODE="local", CRDS_OBSERVATORY=settings.CRDS_OBSERVATORY)
    return env


def certify_cache(send_mail: bool = True) -> JobReport:
    """`crds certify NEWEST --exist` against the server's cache: its rules are sound and every file exists."""
    report = JobReport("certify")
    if backup.is_offline():
        report.summary = f"not run: server offline for maintenance ({backup.offline_flag()})"
        return report
    context = publish.newest_context()
    if not context:
        report.failures.append("the server's cache holds no context to certify")
        report.add("crds certify", report.failures[0])
    else:
        report.job = f"certify {context}"
        publish.write_subdir_mode()
        comparison = server_info.catalog_info()["operational_context"] or context
        command = [sys.executable, "-m", "crds.certify", str(storage.cache_path(context)), "--exist",
                   "--readonly-cache", "--comparison-context", comparison]
        with tempfile.TemporaryDirectory(prefix="crds-certify-") as scratch:
            try:
                result = subprocess.run(command, env=certify_env(), cwd=scratch, capture_output=True, text=True,
                                        timeout=CERTIFY_SECONDS)
                output, code = result.stdout + result.stderr, result.returncode
            except subprocess.TimeoutExpired:
                output, code = f"crds certify did not finish in {CERTIFY_SECONDS} s\n", -1
        errors = [line.split("::")[-1].strip() for line in output.splitlines() if " - ERROR - " in line]
        report.add(f"crds certify {context} --exist (compared with {comparison})", output[-100_000:])
        if errors:
            report.failures.append(f"{len(errors)} error(s): {errors[0]}")
        elif code:
            last = output.strip().splitlines()
            report.failures.append(f"crds certify exited {code}: {_first_line(last[-1]) if last else 'no output'}")
    if send_mail:
        send(report)
    return report
