"""The report a mailing cron job builds: titled sections, failures and problems, one subject line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import send_mail
from django.core.management.base import BaseCommand, CommandError
from interactive import mail


@dataclass
class JobReport:
    """What a job found; its subject says OK, the first problem, or the first failure."""

    job: str
    summary: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, title: str, text: str) -> None:
        self.sections.append((title, text.rstrip() + "\n"))

    @property
    def subject(self) -> str:
        if self.failures:
            return f"{self.job} FAILED: {self.failures[0]}"
        if self.problems:
            return f"{self.job} problems: {self.problems[0]}"
        return f"{self.job} {self.summary or 'OK'}"

    def text(self) -> str:
        return "".join(f"==== {title}\n{text}\n" for title, text in self.sections)


def recipients() -> list[str]:
    """The operators: CRDS_ADMIN_EMAILS, else the status list."""
    return settings.CRDS_ADMIN_EMAILS or settings.CRDS_STATUS_TO_ADDRESSES


def send(report: JobReport) -> bool:
    """Mail `report` to the operators through Django's e-mail backend; False when nobody is configured.

    A mail failure raises (OSError, smtplib errors): a job whose report cannot be delivered failed.
    """
    to = recipients()
    if not to:
        return False
    send_mail(f"{mail.subject_prefix()} {report.subject}", report.text(), settings.DEFAULT_FROM_EMAIL, to)
    return True


def run_for_command(command: BaseCommand, what: str, make: Callable[[], JobReport]) -> JobReport:
    """Build (and mail) a report for a management command: print it, and fail the command on failures."""
    try:
        report = make()
    except OSError as exc:
        raise CommandError(f"Cannot mail the {what}: {exc}") from None
    command.stdout.write(report.text())
    command.stdout.write(report.subject)
    if report.failures:
        raise CommandError(report.subject)
    return report
