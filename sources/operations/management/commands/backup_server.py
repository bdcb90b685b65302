"""Back up the server: database, catalogs, deliveries, mappings, cache config, package list."""

from django.core.management.base import BaseCommand, CommandError

from operations import backup


class Command(BaseCommand):
    help = ("Back up the database, catalogs, deliveries, mappings, the server cache config and the list of "
            "installed packages into $CRDS/server/db_backups/<YYYY-MM-DD-HHMMSS>/ and db_backups/latest/ "
            "(mode 0700). References are not copied; their catalog rows are.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="say what would be backed up, write nothing")
        parser.add_argument("--list", action="store_true", help="list the existing backups")

    def handle(self, *args, dry_run=False, list=False, **options):
        if list:
            for path in backup.list_backups():
                self.stdout.write(str(path))
            return
        try:
            made = backup.make_backup(dry_run=dry_run)
        except (backup.BackupError, OSError) as exc:
            raise CommandError(f"Backup failed, nothing kept: {exc}") from None
        if dry_run:
            counts = ", ".join(f"{n} {k}" for k, n in made.manifest["counts"].items())
            self.stdout.write(f"Would back up the {made.manifest['engine']} database ({counts}) and "
                              f"{', '.join(made.manifest['areas'])} into {made.path}")
        else:
            for note in made.notes:
                self.stdout.write(note)
            self.stdout.write(f"Made {made.summary()}; also in {made.path.parent / backup.LATEST}")
