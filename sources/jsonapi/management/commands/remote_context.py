"""Register, list and remove the remote caches allowed to push their context (server-behaviour.md §4.5)."""

from django.core.management.base import BaseCommand, CommandError
from interactive.models import RemoteContext

from jsonapi import services
from jsonapi.registry import RpcError


class Command(BaseCommand):
    help = ("Manage remote caches (pipelines, the server's own cache) that report their context with "
            "`crds sync --push-context KEY`. `add NAME` prints the new cache's secret key.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("add", help="register a remote cache and print its key").add_argument("name")
        sub.add_parser("remove", help="forget a remote cache").add_argument("name")
        listing = sub.add_parser("list", help="show the remote caches and the contexts they last pushed")
        listing.add_argument("--keys", action="store_true", help="also show the secret keys")

    def handle(self, *args, action, **options):
        if action == "add":
            try:
                remote = services.add_remote(options["name"])
            except RpcError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Registered remote cache '{remote.name}'. Its key (keep it secret):")
            self.stdout.write(remote.key)
        elif action == "remove":
            deleted, _ = RemoteContext.objects.filter(name=options["name"]).delete()
            if not deleted:
                raise CommandError(f"No remote cache named '{options['name']}'.")
            self.stdout.write(f"Removed remote cache '{options['name']}'.")
        else:
            for remote in RemoteContext.objects.order_by("name"):
                line = f"{remote.name}\t{remote.context or '(nothing pushed yet)'}\t{remote.updated:%Y-%m-%d %H:%M:%S}"
                self.stdout.write(line + (f"\t{remote.key}" if options["keys"] else ""))
