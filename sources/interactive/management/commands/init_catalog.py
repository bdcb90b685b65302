"""Initialise the catalog: import a CRDS cache (--from-cache) or bootstrap empty rules (called by ./init)."""

from django.core.management.base import BaseCommand, CommandError

from interactive import importer


class Command(BaseCommand):
    help = ("Import a standard CRDS cache into the catalog (--from-cache DIR), or without it create an "
            "empty rule set for the observatory. Refuses a non-empty catalog unless --force is given.")
    # The catalog does not depend on the URL configuration or views; do not let them block ./init.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--from-cache", metavar="DIR", help="a CRDS cache: mappings/, references/, config/")
        parser.add_argument("--force", action="store_true",
                            help="delete the existing catalog, context history and pointers first")
        parser.add_argument("--user", default=None, help="name recorded in the audit log (default: login name)")

    def handle(self, *args, **options):
        try:
            if options["from_cache"] is not None:
                report = importer.import_cache(options["from_cache"], force=options["force"], user=options["user"])
            else:
                report = importer.bootstrap(force=options["force"], user=options["user"])
        except importer.ImportFailed as exc:
            raise CommandError(str(exc)) from None
        for problem in report.problems:
            self.stderr.write(f"WARNING: {problem}")
        self.stdout.write(f"Cataloged {report.summary()}")
        self.stdout.write(f"Done in {report.seconds:.1f} s.")
