"""Report (and with --delete remove) cache files without catalog rows; report missing and corrupt files."""

from django.core.management.base import BaseCommand, CommandError

from operations import orphans


class Command(BaseCommand):
    help = ("Compare the file cache with the catalog: files with no catalog row (stray), cataloged files the "
            "cache lacks (missing) and, with --check-sha1sum, files whose sha1sum differs from the catalog "
            "(corrupt). --delete removes the stray files. Exits 1 when anything is found.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--check-sha1sum", action="store_true", help="also compare every file's sha1sum")
        parser.add_argument("--delete", action="store_true", help="remove the stray files")
        parser.add_argument("--dry-run", action="store_true", help="with --delete: only say what would be removed")

    def handle(self, *args, check_sha1sum=False, delete=False, dry_run=False, **options):
        report = orphans.check(check_sha1sum=check_sha1sum, delete=delete and not dry_run)
        for line in report.lines():
            self.stdout.write(line)
        if delete and dry_run:
            for path in report.stray:
                self.stdout.write(f"would delete: {path}")
        self.stdout.write(report.summary())
        if not report.clean and not (delete and not dry_run and not report.missing and not report.corrupt):
            raise CommandError(f"The cache and the catalog disagree: {report.summary()}")
