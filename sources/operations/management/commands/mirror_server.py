"""Make this server a copy of another server (its backup plus its files over HTTP, or its public interface)."""

from django.core.management.base import BaseCommand, CommandError

from operations import backup, mirror


class Command(BaseCommand):
    help = ("Mirror server OBS USECASE reachable at SOURCE_URL: restore its latest backup (or --backup DIR), fetch "
            "the files its catalog holds with crds sync, then remove orphaned files. With --from-server URL, copy "
            "a server known only by its public interface: its mappings, context history, file metadata and, with "
            "--references, references. Refuses to run on an ops server unless --force.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("obs", nargs="?", help="observatory of the source server (hst, jwst, roman)")
        parser.add_argument("usecase", nargs="?", help="usecase of the source server (ops, test, dev ...)")
        parser.add_argument("source_url", nargs="?", help="base URL of the source server")
        parser.add_argument("--backup", metavar="DIR", help="the source's backup directory (default: its latest)")
        parser.add_argument("--from-server", metavar="URL", help="copy through JSON-RPC and downloads only")
        parser.add_argument("--references", choices=("none", "operational", "all"), default="none",
                            help="with --from-server: which references to download (default: none)")
        parser.add_argument("--contexts", nargs="+", metavar="PMAP",
                            help="with --from-server: download only these contexts' mappings (default: all)")
        parser.add_argument("--force", action="store_true", help="allow mirroring onto an ops server")
        parser.add_argument("--dry-run", action="store_true", help="check the source and report; change nothing")

    def handle(self, *args, **options):
        positional = [options["obs"], options["usecase"], options["source_url"]]
        try:
            if options["from_server"]:
                if any(positional):
                    raise CommandError("Give either OBS USECASE SOURCE_URL or --from-server URL, not both.")
                report = mirror.mirror_from_server(options["from_server"], options["references"], options["contexts"],
                                                   force=options["force"], dry_run=options["dry_run"])
            else:
                if not all(positional):
                    raise CommandError("Give OBS USECASE SOURCE_URL (e.g. hst ops https://hst-crds.example) "
                                       "or --from-server URL.")
                report = mirror.mirror_server(*positional, backup_path=options["backup"], force=options["force"],
                                              dry_run=options["dry_run"])
        except mirror.UndoFailed as exc:
            raise CommandError(str(exc)) from None
        except (mirror.MirrorError, backup.BackupError, OSError) as exc:
            raise CommandError(f"Mirror failed: {exc}") from None
        for line in report.lines():
            self.stdout.write(line)
        if not options["from_server"] and not report.dry_run and report.orphans and report.orphans.missing:
            raise CommandError(f"Mirror incomplete: {len(report.orphans.missing)} files the catalog holds are still "
                               "missing from the cache (see above); run it again once the source serves them.")
