"""Check the shared read-only cache against this server (cron: host/verify_group_cache, weekly)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from operations import mailreport, publish


class Command(BaseCommand):
    help = ("Check the shared read-only CRDS cache TARGET against this server without changing it: crds sync "
            "--check-files --readonly-cache of every context (mappings by sha1sum, references by existence and "
            "length). Errors are mailed to CRDS_ADMIN_EMAILS (else CRDS_STATUS_TO_ADDRESSES) and make the command "
            "exit non-zero. Ops servers only unless --force; nothing is done while the server is offline.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("target", help="the shared cache directory (absolute path)")
        parser.add_argument("--url", help="the server to check against (default: this server's public URL)")
        parser.add_argument("--force", action="store_true", help="run on a non-ops server or while offline")
        parser.add_argument("--no-mail", action="store_true", help="print the result instead of mailing it")

    def handle(self, *args, **options):
        def verify():
            try:
                return publish.verify_group_cache(Path(options["target"]), options["url"], force=options["force"],
                                                  send_mail=not options["no_mail"])
            except publish.PublishError as exc:
                raise CommandError(str(exc)) from None

        mailreport.run_for_command(self, "shared cache verification", verify)
