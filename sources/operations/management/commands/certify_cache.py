"""Certify the newest context of the server's cache offline and check its files exist (host/certify_cache)."""

from django.core.management.base import BaseCommand

from operations import mailreport, reports


class Command(BaseCommand):
    help = ("Run `crds certify NEWEST.pmap --exist` on the server's own file cache without network access (the "
            "rules of the newest context, compared with the operational one, and every file they name), and mail "
            "the result to CRDS_ADMIN_EMAILS (else CRDS_STATUS_TO_ADDRESSES). Exits non-zero when certify finds "
            "errors. Not run while the server is offline for maintenance.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--no-mail", action="store_true", help="print the result instead of mailing it")

    def handle(self, *args, **options):
        mailreport.run_for_command(self, "certify report",
                                   lambda: reports.certify_cache(send_mail=not options["no_mail"]))
