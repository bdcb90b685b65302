"""Mark files bad or ok (server-behaviour.md §3.4, §7).

Marking a file bad sets `rejected` on it; a bad mapping also blacklists
every mapping that contains it, directly or indirectly, whatever context
they belong to.  Marking ok clears `rejected`, then clears `blacklisted`
only on mappings that no longer contain any rejected mapping.  Files of the
current latest context cannot be marked bad.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.db import transaction

from interactive import cache, catalog, contexts, mail, set_context, storage
from interactive.importer import NAMED_FILE_RE, users_of
from interactive.models import FileRecord

log = logging.getLogger(__name__)

FLAGS = ("bad", "ok")
WHY_RE = re.compile(r"^[A-Za-z0-9._\s/,=\-+]{1,2000}\Z")

# Children named by imap and pmap files, by name and the file's identity: a confirm that fails
# after generating contexts rolls its counters back, so a generated name can come back with
# other rules, in this process or another.
_CHILDREN: dict[str, tuple[tuple[int, int, int], tuple[str, ...]]] = {}


class MarkBadError(Exception):
    """The request cannot be carried out; nothing was changed."""


@dataclass
class MarkResult:
    flag: str
    files: list[str]
    blacklisted: list[str] = field(default_factory=list)
    unblacklisted: list[str] = field(default_factory=list)
    mail_sent: bool = False


def parse_file_list(text: str) -> list[str]:
    """Cataloged file names separated by whitespace or commas, checked."""
    names = [n for n in re.split(r"[\s,]+", text or "") if n]
    if not names:
        raise MarkBadError("No files were given: list cataloged file names separated by spaces or commas.")
    for name in names:
        try:
            storage.check_filename(name)
        except storage.BadName as exc:
            raise MarkBadError(str(exc)) from None
    known = set(FileRecord.objects.filter(name__in=names).exclude(state__in=("uploaded", "cancelled"))
                .values_list("name", flat=True))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise MarkBadError(f"File '{unknown[0]}' is not known to CRDS." if len(unknown) == 1 else
                           f"Files not known to CRDS: {', '.join(unknown[:10])}")
    return sorted(set(names))


def _children(name: str) -> tuple[str, ...]:
    """The files a context mapping names in its selector (read again only when the file changed)."""
    path = storage.cache_path(name)
    try:
        stat = path.stat()
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        known = _CHILDREN.get(name)
        if known is None or known[0] != identity:
            text = path.read_text(errors="replace")
            known = _CHILDREN[name] = (identity, tuple(
                n for n in NAMED_FILE_RE.findall(text.split("selector", 1)[-1]) if n != name))
    except OSError:
        return ()
    return known[1]


def context_graph() -> dict[str, tuple[str, ...]]:
    """{imap or pmap: files it names} for every cataloged context mapping."""
    names = FileRecord.objects.filter(type="mapping").filter(
        name__regex=r"\.(pmap|imap)$").values_list("name", flat=True)
    return {name: _children(name) for name in names}


def mappings_using(roots: set[str], graph: dict[str, tuple[str, ...]]) -> set[str]:
    """The mappings in `roots` and every cataloged mapping containing one of them."""
    return users_of(roots, graph)


def contains_rejected(name: str, graph: dict[str, tuple[str, ...]], rejected: set[str]) -> bool:
    """True if mapping `name` is, or contains at any depth, a rejected mapping."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in rejected:
            return True
        todo.extend(c for c in graph.get(current, ()) if storage.is_mapping(c))
    return False


def blacklisted_by(name: str) -> list[str]:
    """The rejected mappings nested inside mapping `name` (itself included)."""
    graph = context_graph()
    rejected = set(FileRecord.objects.filter(rejected=True, type="mapping").values_list("name", flat=True))
    return sorted(m for m in rejected if m != name and contains_rejected(name, graph, {m})) + (
        [name] if name in rejected else [])


def refuse_files_of_latest(files: list[str], latest: str) -> None:
    """Refuse to mark bad any file of the latest context (§7 step 1), or when that cannot be checked."""
    if not latest:
        return
    try:
        in_latest = sorted(set(files) & set_context.closure(latest))
    except set_context.SetContextError as exc:
        raise MarkBadError(f"Cannot check the files against the latest context '{latest}', so nothing was "
                           f"marked: {exc}") from None
    if in_latest:
        raise MarkBadError(
            f"{', '.join(in_latest[:10])} {'is' if len(in_latest) == 1 else 'are'} in the latest context "
            f"'{latest}'. Make a context without {'it' if len(in_latest) == 1 else 'them'} latest first, "
            "then mark it bad.")


def mark(files: list[str], flag: str, why: str, user: str) -> MarkResult:
    """Mark cataloged `files` bad or ok with reason `why`; all or nothing."""
    if flag not in FLAGS:
        raise MarkBadError(f"Unknown flag {str(flag)[:16]!r}: use 'bad' or 'ok'.")
    if not why or not WHY_RE.match(why):
        raise MarkBadError("A reason is required: up to 2000 letters, digits, spaces and . _ / , = - +")
    files = parse_file_list(" ".join(files))
    if flag == "bad":
        refuse_files_of_latest(files, contexts.get_pointer("latest"))  # refuse early, outside the transaction
    graph = context_graph()
    mappings = {f for f in files if storage.is_mapping(f)}
    result = MarkResult(flag, files)
    with transaction.atomic():
        if flag == "bad":
            refuse_files_of_latest(files, set_context.lock_latest())  # again: latest may have moved meanwhile
            FileRecord.objects.filter(name__in=files).update(rejected=True)
            users = sorted(mappings_using(mappings, graph))
            changed = set(FileRecord.objects.filter(name__in=users, blacklisted=False).values_list("name", flat=True))
            FileRecord.objects.filter(name__in=users).update(blacklisted=True)
            result.blacklisted = sorted(changed)
        else:
            FileRecord.objects.filter(name__in=files).update(rejected=False)
            rejected = set(FileRecord.objects.filter(rejected=True, type="mapping").values_list("name", flat=True))
            candidates = mappings_using(mappings, graph)
            clean = [m for m in candidates if not contains_rejected(m, graph, rejected)]
            changed = set(FileRecord.objects.filter(name__in=clean, blacklisted=True).values_list("name", flat=True))
            FileRecord.objects.filter(name__in=clean).update(blacklisted=False)
            result.unblacklisted = sorted(changed)
        label = "BAD" if flag == "bad" else "OK"
        for name in files:
            record = FileRecord.objects.get(name=name)
            catalog.audit("blacklist", name, user, why=why, details=f"marked as '{label}'",
                          instrument=record.instrument, filekind=record.filekind)
        cache.invalidate_on_commit()
    affected = result.blacklisted if flag == "bad" else result.unblacklisted
    result.mail_sent = mail.send(
        f"Marked Files {label} by {mail.person(user)}.",
        f"Flag: {label}\nUser: {user}\nReason: {why}\nFiles: {', '.join(files)}\n"
        f"Mappings {'blacklisted' if flag == 'bad' else 'no longer blacklisted'}: {', '.join(affected) or 'none'}\n",
        user)
    return result
