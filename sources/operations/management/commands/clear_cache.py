"""Clear the Django web cache (memcached in production) and optionally prime it again."""

from django.core.management.base import BaseCommand

from operations import webcache


class Command(BaseCommand):
    help = "Clear the web cache (memcached) and start a new catalog generation; --prime rebuilds server info."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--prime", action="store_true", help="rebuild the server info clients ask for first")
        parser.add_argument("--dry-run", action="store_true", help="say what would be cleared")

    def handle(self, *args, **options):
        self.stdout.write(webcache.clear(prime=options["prime"], dry_run=options["dry_run"]))
