"""Restore the server from its latest or a named backup, then remove files the restore orphaned."""

from django.core.management.base import BaseCommand, CommandError

from operations import backup as backups
from operations import mirror


class Command(BaseCommand):
    help = ("Reload the database and restore catalogs, deliveries, mappings and the cache config from the "
            "latest backup (or BACKUP: a backup name such as 2026-11-29-030500, or a backup directory), then "
            "move the reference and rules files the restored catalog does not know into "
            "file_cache/removed_by_restore/<date>/. The backup is verified first; a damaged or mismatched backup "
            "changes nothing, and a restore that fails puts everything back.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("backup", nargs="?", help="backup name or directory (default: the latest backup)")
        parser.add_argument("--dry-run", action="store_true", help="verify the backup and report; change nothing")

    def handle(self, *args, **options):
        try:
            report = mirror.restore_server(options["backup"], dry_run=options["dry_run"])
        except mirror.UndoFailed as exc:
            raise CommandError(str(exc)) from None
        except (mirror.MirrorError, backups.BackupError, OSError) as exc:
            raise CommandError(f"Restore failed, nothing changed: {exc}") from None
        for line in report.lines():
            self.stdout.write(line)

