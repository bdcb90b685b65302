"""Mail the weekly or monthly status report of the server (run by host/weekly_status, host/monthly_status)."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from operations import mailreport, reports


class Command(BaseCommand):
    help = ("Report what happened on the server in the 7 days before DATE (weekly) or in the calendar month before "
            "DATE's month (monthly) — contexts, deliveries, audited actions, pipeline contexts, requests — and what "
            "it holds, and mail it to CRDS_ADMIN_EMAILS (else CRDS_STATUS_TO_ADDRESSES). Not made while the server "
            "is offline for maintenance.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("period", choices=reports.PERIODS, help="weekly or monthly")
        parser.add_argument("--date", metavar="YYYY-MM-DD", help="the day the report is for (default: today)")
        parser.add_argument("--no-mail", action="store_true", help="print the report instead of mailing it")

    def handle(self, *args, **options):
        day = None
        if options["date"]:
            try:
                day = datetime.date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError(f"Invalid --date {options['date'][:40]!r}: give YYYY-MM-DD.") from None
        period, send_mail = options["period"], not options["no_mail"]
        mailreport.run_for_command(self, f"{period} report",
                                   lambda: reports.status_report(period, day, send_mail=send_mail))
