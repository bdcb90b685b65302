"""Publish the ops server's files into the shared read-only cache (cron: host/sync_ops_to_grp)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from operations import publish


class Command(BaseCommand):
    help = ("Bring the shared read-only CRDS cache TARGET (used by clients with CRDS_READONLY_CACHE=1) up to "
            "date with this server using crds sync, then make its files read-only. Ops servers only unless "
            "--force; nothing is done while the server is offline for maintenance.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("target", help="the shared cache directory (absolute path)")
        parser.add_argument("--url", help="the server to sync from (default: this server's public URL)")
        parser.add_argument("--contexts", nargs="+", metavar="PMAP", help="only these contexts (default: all)")
        parser.add_argument("--no-references", action="store_true", help="mappings and config only")
        parser.add_argument("--force", action="store_true", help="run on a non-ops server or while offline")

    def handle(self, *args, **options):
        try:
            line = publish.sync_group_cache(Path(options["target"]), options["url"], options["contexts"],
                                            references=not options["no_references"], force=options["force"])
        except publish.PublishError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(line)
