"""Add a user account, optionally in the submission groups or as a superuser."""

import sys

from django.core.management.base import BaseCommand, CommandError

from operations import users


class Command(BaseCommand):
    help = (f"Add user USERNAME with e-mail EMAIL. Groups: {', '.join(users.GROUPS)}. The password is read "
            "from standard input with --password-stdin; without it the account cannot log in with a password.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("email")
        parser.add_argument("--group", action="append", default=[], choices=users.GROUPS, help="repeatable")
        parser.add_argument("--superuser", action="store_true")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        parser.add_argument("--dry-run", action="store_true", help="check and report; add nothing")

    def handle(self, *args, **options):
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError("--password-stdin given but standard input held no password.")
        try:
            line = users.add_user(options["username"], options["email"], password, options["group"],
                                  superuser=options["superuser"], first_name=options["first_name"],
                                  last_name=options["last_name"], dry_run=options["dry_run"])
        except users.UserError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(line)
