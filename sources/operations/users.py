"""User and group maintenance for operators: accounts, submission groups, the superuser flag."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

GROUPS = ("file_submission", "edit_context_history")


class UserError(Exception):
    """A user or group change cannot be made; nothing was changed."""


def check_groups(groups: list[str]) -> list[str]:
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise UserError(f"Unknown group {unknown[0]!r}: choose from {', '.join(GROUPS)}.")
    return groups


def describe(user) -> str:
    groups = ", ".join(sorted(user.groups.values_list("name", flat=True))) or "no groups"
    flags = " superuser" if user.is_superuser else ""
    return f"{user.username} <{user.email or 'no e-mail'}>{flags}: {groups}"


def add_user(username: str, email: str, password: str | None, groups: list[str], superuser: bool = False,
             first_name: str = "", last_name: str = "", dry_run: bool = False) -> str:
    """Create an account (password unusable when none is given) in `groups`; a line describing it."""
    model = get_user_model()
    check_groups(groups)
    try:
        model.username_validator(username)
    except Exception:
        raise UserError(f"Invalid user name {username[:160]!r}: use letters, digits and @.+-_ only.") from None
    if model.objects.filter(username=username).exists():
        raise UserError(f"User {username!r} already exists: use tools/set_groups to change its groups.")
    if "@" not in email:
        raise UserError(f"Invalid e-mail address {email[:160]!r}.")
    if dry_run:
        return f"would add {username} <{email}>{' superuser' if superuser else ''}: {', '.join(groups) or 'no groups'}"
    with transaction.atomic():
        user = model.objects.create_user(username, email=email, password=password, first_name=first_name,
                                         last_name=last_name, is_superuser=superuser, is_staff=superuser)
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in groups])
    return "added " + describe(user)


def set_groups(username: str, add: list[str], remove: list[str], superuser: bool | None = None,
               dry_run: bool = False) -> str:
    """Add and remove group memberships and set or clear the superuser flag; a line describing the result."""
    check_groups(add + remove)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise UserError(f"No user {username[:160]!r}: add it with tools/add_user.")
    if set(add) & set(remove):
        raise UserError(f"Group {sorted(set(add) & set(remove))[0]!r} is both added and removed.")
    if dry_run:
        return f"would change {describe(user)}: add {add or 'nothing'}, remove {remove or 'nothing'}" + (
            "" if superuser is None else f", superuser {superuser}")
    with transaction.atomic():
        for name in add:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        user.groups.remove(*Group.objects.filter(name__in=remove))
        if superuser is not None:
            user.is_superuser = user.is_staff = superuser
            user.save(update_fields=["is_superuser", "is_staff"])
    return "now " + describe(user)
