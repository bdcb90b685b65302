"""Template filters of the read-only pages."""

from __future__ import annotations

import datetime
import re

from django import template

from interactive import filedetails
from interactive.models import ACTIVATION_PLACEHOLDER, USEAFTER_PLACEHOLDER

register = template.Library()
ABSOLUTE_PATH_RE = re.compile(r"(?<![\w.:/])/(?:[^\s'\"/<>]+/)+")
FILE_RE = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9]+\Z")


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key, "")


@register.filter
def status(record) -> str:
    return filedetails.status(record)


@register.filter
def na_date(value: datetime.datetime | None) -> str:
    """A catalog date, or N/A for the placeholders that mean "never"."""
    if value is None or value in (ACTIVATION_PLACEHOLDER, USEAFTER_PLACEHOLDER):
        return "N/A"
    return value.strftime("%Y-%m-%d %H:%M:%S")


@register.filter
def diff_class(line: str) -> str:
    if line.startswith("+") and not line.startswith("+++"):
        return "add"
    if line.startswith("-") and not line.startswith("---"):
        return "del"
    return ""


@register.filter
def is_file(value: str) -> bool:
    """True for a plain file name that can be linked to its page."""
    return bool(FILE_RE.match(str(value)))


@register.filter
def nopaths(value) -> str:
    """Free text (descriptions, audit details) without the directories of any absolute path in it."""
    return ABSOLUTE_PATH_RE.sub("", str(value))
