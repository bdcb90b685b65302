"""Change a user's groups (file_submission, edit_context_history) and superuser flag."""

from django.core.management.base import BaseCommand, CommandError

from operations import users


class Command(BaseCommand):
    help = f"Add USERNAME to or remove it from groups ({', '.join(users.GROUPS)}); set or clear its superuser flag."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--add", action="append", default=[], choices=users.GROUPS, metavar="GROUP")
        parser.add_argument("--remove", action="append", default=[], choices=users.GROUPS, metavar="GROUP")
        flag = parser.add_mutually_exclusive_group()
        flag.add_argument("--superuser", dest="superuser", action="store_const", const=True, default=None)
        flag.add_argument("--no-superuser", dest="superuser", action="store_const", const=False)
        parser.add_argument("--dry-run", action="store_true", help="check and report; change nothing")

    def handle(self, *args, **options):
        try:
            line = users.set_groups(options["username"], options["add"], options["remove"], options["superuser"],
                                    dry_run=options["dry_run"])
        except users.UserError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(line)
