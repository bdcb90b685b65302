"""Publish the dataset ids newly affected, read with the real crds client (host/query_affected_datasets)."""

from django.core.management.base import BaseCommand, CommandError
from operations import mailreport

from reprocessing import query_affected


class Command(BaseCommand):
    help = ("Run `crds query_affected -i` against this server (the original's cron_query_affected_datasets): "
            "the dataset ids affected by the context changes since the last run are printed and mailed to "
            "CRDS_ADMIN_EMAILS (else CRDS_STATUS_TO_ADDRESSES). Changes without results yet are skipped. The "
            "first run only records the end of the history. Not run while the server is offline.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--server-url", default="",
                            help="the server the client asks (default: CRDS_PUBLIC_URL of this site)")
        parser.add_argument("--from", dest="start", default="", metavar="CONTEXT",
                            help="publish the changes from CONTEXT on, instead of from the last run")
        parser.add_argument("--no-mail", action="store_true", help="print the ids instead of mailing them")

    def handle(self, *args, **options):
        try:
            published = query_affected.run(options["server_url"], options["start"])
        except query_affected.QueryError as exc:
            raise CommandError(str(exc)) from None
        report = query_affected.report(published)
        if report is None:
            self.stdout.write(published.line)
            return
        self.stdout.write(report.text())  # first: the record has moved on, so the job log keeps the ids
        self.stdout.write(report.subject)
        if not options["no_mail"]:
            try:
                mailreport.send(report)
            except OSError as exc:
                raise CommandError(f"Cannot mail the affected dataset ids (printed above): {exc}") from None
