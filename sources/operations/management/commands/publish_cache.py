"""Refresh the server's own cache config (server_config, bad_files.txt) and context pickles; push its context."""

from django.core.management.base import BaseCommand, CommandError

from operations import publish


class Command(BaseCommand):
    help = ("Write config/<obs>/server_config and bad_files.txt of the server's file cache from the catalog, pickle "
            "its newest and operational contexts (pickles/<obs>/) and record its operational context as the remote "
            "context '<obs>-<usecase>-server'. Does nothing while the server is offline for maintenance unless "
            "--force.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="run even while the server is offline")

    def handle(self, *args, **options):
        try:
            self.stdout.write(publish.publish(force=options["force"]))
        except publish.PublishError as exc:
            raise CommandError(f"Publishing the server cache failed: {exc}") from None
