"""Nightly diagnostics and backup, mailed to the operators (run by host/nightly.cron.job)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from operations import mailreport, nightly


class Command(BaseCommand):
    help = ("Capture diagnostics (configuration, disk usage, code revision, orphan check), make the nightly "
            "backup and mail the report to CRDS_ADMIN_EMAILS (else CRDS_STATUS_TO_ADDRESSES).")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--self-test-log", metavar="FILE", help="include this reinstall/self-test log")
        parser.add_argument("--no-mail", action="store_true", help="print the report instead of mailing it")

    def handle(self, *args, **options):
        log = Path(options["self_test_log"]) if options["self_test_log"] else None
        mailreport.run_for_command(self, "nightly report", lambda: nightly.run(log, send_mail=not options["no_mail"]))
