import datetime

from django.core.management.base import BaseCommand

from interactive import submission


class Command(BaseCommand):
    help = ("Delete 'uploaded' records (and their cache files) that no READY submission is waiting on: "
            "what a submission leaves when its worker is killed mid-way (hourly).")

    def add_arguments(self, parser):
        default = int(submission.ABANDONED_AFTER.total_seconds() // 60)
        parser.add_argument("--older-than-minutes", type=int, default=default,
                            help="only records delivered at least this long ago (default: %(default)s)")

    def handle(self, *args, **options):
        removed = submission.remove_abandoned_uploads(datetime.timedelta(minutes=options["older_than_minutes"]))
        self.stdout.write(f"Removed {len(removed)} abandoned upload(s){': ' if removed else '.'}{' '.join(removed)}")
