"""The nightly report: diagnostics of the server and its nightly backup, mailed to the operators.

host/nightly.cron.job first reinstalls, restarts and self-tests dev/test servers (with the
scripts that do that) and passes its log here; this module adds the configuration, disk usage
of each root, the code's VCS revision and uncommitted changes, the orphan check, and makes the
backup.  Celery beat runs the same report (without reinstalling) as operations.nightly.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from crds_server import siteconfig
from django.conf import settings

from operations import backup, orphans
from operations.mailreport import JobReport, send

SECRET_WORDS = ("PASSWORD", "SECRET", "KEY")
DEFAULT_KEEP_BACKUPS = "7"  # for a site.env written before CRDS_KEEP_BACKUPS existed


def _run(*command: str, cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{command[0]}: {exc}\n"
    return result.stdout + result.stderr


def configuration() -> str:
    return "".join(f"{key}={'(hidden)' if any(w in key for w in SECRET_WORDS) else value}\n"
                   for key, value in sorted(settings.SITE.items()))


def disk_usage() -> str:
    lines = []
    for label, root in (("CRDS", settings.CRDS_ROOT), ("CRDS_SERVER_FILES", settings.CRDS_SERVER_FILES),
                        ("CRDS_FILE_CACHE", settings.CRDS_FILE_CACHE)):
        if not Path(root).exists():
            lines.append(f"{label} {root}: missing")
            continue
        usage = shutil.disk_usage(root)
        used = _run("du", "-sh", str(root)).split("\t")[0].strip() or "?"
        lines.append(f"{label} {root}: {used} used here; file system {usage.used * 100 // usage.total}% full, "
                     f"{usage.free // 2**30} GiB free")
    return "\n".join(lines)


def revision() -> str:
    checkout = siteconfig.CHECKOUT
    if not (checkout / ".git").exists():
        return f"{checkout} is not a git checkout\n"
    head = _run("git", "log", "-1", "--format=%H %ad %s", cwd=checkout)
    changes = _run("git", "status", "--short", "--untracked-files=no", cwd=checkout)
    return head + ("uncommitted changes:\n" + changes if changes.strip() else "no uncommitted changes\n")


def backups_kept() -> int:
    """CRDS_KEEP_BACKUPS, the number of newest backups the nightly job keeps."""
    value = settings.SITE.get("CRDS_KEEP_BACKUPS", DEFAULT_KEEP_BACKUPS).strip()
    if not value.isdigit() or int(value) < 1:
        raise backup.BackupError(f"CRDS_KEEP_BACKUPS is {value[:20]!r}: set it in configs/ to the number of "
                                 "nightly backups to keep (1 or more) and run ./install again.")
    return int(value)


def remove_old_backups(report: JobReport) -> None:
    """After a good backup, keep the newest CRDS_KEEP_BACKUPS: each is a full copy and would fill the disk."""
    try:
        keep = backups_kept()
        removed = backup.prune_backups(keep)
    except (backup.BackupError, OSError) as exc:
        report.failures.append(f"removing old backups: {exc}")
        report.add("old backups", f"FAILED: {exc}")
        return
    names = "".join(f"\nremoved {path.name}" for path in removed)
    report.add("old backups", f"keeping the newest {keep}; removed {len(removed)}{names}")


def run(self_test_log: Path | None = None, send_mail: bool = True) -> JobReport:
    """Diagnostics and the nightly backup; mailed to CRDS_ADMIN_EMAILS (else the status list)."""
    report = JobReport("nightly")
    if self_test_log is not None:
        try:
            report.add("reinstall and self-tests", self_test_log.read_text(errors="replace")[-100_000:])
        except OSError as exc:
            report.add("reinstall and self-tests", f"cannot read {self_test_log}: {exc.strerror}")
        if "FAILED" in report.sections[-1][1]:
            report.problems.append("self-tests failed")
    report.add("configuration", configuration())
    report.add("disk usage", disk_usage())
    report.add("code revision", revision())
    check = orphans.check()
    report.add("cache consistency", "\n".join(check.lines()[:200] + [check.summary()]))
    if not check.clean:
        report.problems.append(check.summary())
    try:
        made = backup.make_backup()
        report.add("backup", made.summary())
    except (backup.BackupError, OSError) as exc:
        report.failures.append(f"backup: {exc}")
        report.add("backup", f"FAILED: {exc}")
    else:
        remove_old_backups(report)
    if send_mail:
        send(report)
    return report
