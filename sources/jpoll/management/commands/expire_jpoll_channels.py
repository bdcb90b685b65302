import datetime

from django.core.management.base import BaseCommand

from jpoll import service


class Command(BaseCommand):
    help = "Remove progress channels and their messages older than --hours (default 24)."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=float, default=24.0)

    def handle(self, *args, **options):
        count = service.expire(datetime.timedelta(hours=options["hours"]))
        self.stdout.write(f"Removed {count} channel(s).")
