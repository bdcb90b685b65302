"""Context pointers (latest, edit, versions, build), their history, and context specifications.

resolve_context_spec() turns any spec the crds client sends (crds-protocol.md §3) into a mapping
name; mapping_closure() and reference_closure() read the rules with the crds library, which keeps
loaded mappings in memory across requests.
"""

from __future__ import annotations

import datetime
import re

from crds.core import config as crds_config
from crds.core import rmap
from django.conf import settings
from django.db import transaction

from interactive import cache, catalog, storage
from interactive.models import CONTEXT_KINDS, ContextHistory, ContextPointer

# The 2019 server called "latest" "operational"; both names are accepted.
KIND_ALIASES = {"operational": "latest"}


def normalise_kind(kind: str) -> str:
    kind = KIND_ALIASES.get(kind, kind)
    if kind not in CONTEXT_KINDS:
        raise ValueError(f"Unknown context kind {kind!r}: use one of {', '.join(CONTEXT_KINDS)}.")
    return kind


def get_pointer(kind: str) -> str:
    """The context a pointer names, or "" when it was never set."""
    row = ContextPointer.objects.filter(kind=normalise_kind(kind)).first()
    return row.context if row else ""


def pointers() -> dict[str, str]:
    found = {row.kind: row.context for row in ContextPointer.objects.all()}
    return {kind: found.get(kind, "") for kind in CONTEXT_KINDS}


@transaction.atomic
def set_pointer(kind: str, context: str, description: str = "",
                when: datetime.datetime | None = None) -> bool:
    """Move a pointer and add a history row; False if it already named `context`."""
    kind = normalise_kind(kind)
    row, _ = ContextPointer.objects.select_for_update().get_or_create(kind=kind, defaults={"context": ""})
    if row.context == context:
        return False
    row.context = context
    row.save()
    ContextHistory.objects.create(
        start_date=when or datetime.datetime.now(), context=context, state=kind, description=description)
    return True


def public_history() -> list[ContextHistory]:
    """The latest-context history, newest first: what clients and the home page show."""
    return list(ContextHistory.objects.filter(state="latest").order_by("-start_date", "-id"))


# ---------------------------------------------------------------------------
# Context specifications (crds-protocol.md §3) and mapping closures.

class ContextError(ValueError):
    """A context specification that cannot be resolved; the message says why."""


SPEC_FORMS = ("YYYY-MM-DDTHH:MM:SS | operational | edit | versions | latest | build | "
              "<obs>-<date or tag> | <obs>-<instrument>-<date or tag> | <obs>-<instrument>-<type>-<date or tag> "
              "| <literal .pmap, .imap or .rmap>")
SPEC_TAGS = ("edit", "operational", "latest", "build", "versions")


def check_observatory(observatory: str | None) -> str:
    """The server's observatory, after checking a caller's `observatory` (None = ours)."""
    ours = settings.CRDS_OBSERVATORY
    if observatory is None:
        return ours
    if not isinstance(observatory, str) or observatory.lower() != ours:
        raise ContextError(f"Mismatch between requested observatory {str(observatory)[:32]!r} "
                           f"and server observatory {ours!r}")
    return ours


def parse_spec_date(text: str) -> datetime.datetime:
    """YYYY-MM-DD[THH:MM:SS[.fff]] (a space also separates date and time) as a datetime.

    The client allows any number of fractional digits; beyond microseconds they are cut off,
    never rounded, so a date is never moved into the next second's context.
    """
    normal = re.sub(r"(\.\d{6})\d+\Z", r"\1", text.replace(" ", "T"))
    for form in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(normal, form)
        except ValueError:
            continue
    raise ContextError(f"Invalid date {text[:64]!r}: use YYYY-MM-DDTHH:MM:SS.")


def context_by_date(when: datetime.datetime) -> str:
    """The latest context in force at `when`: the newest history row starting at or before it."""
    row = (ContextHistory.objects.filter(state="latest", start_date__lte=when)
           .order_by("-start_date", "-id").first())
    if row is None:
        raise ContextError(f"No CRDS context found corresponding to (prior to) date "
                           f"'{when.strftime('%Y-%m-%d %H:%M:%S')}'")
    return row.context


def pointer_context(tag: str) -> str:
    """The pmap a symbolic tag names; `build` falls back to latest when never set."""
    kind = normalise_kind(tag)
    context = get_pointer(kind)
    if not context and kind == "build":
        context = get_pointer("latest")
    if not context:
        raise ContextError(f"No '{kind}' context is set on this server.")
    return context


def check_distributable_mapping(name: str) -> str:
    """`name` if it is a cataloged, distributable mapping of this server's observatory."""
    if cache.seen_distributable(name):
        return name
    try:
        storage.check_filename(name)
    except storage.BadName as exc:
        raise ContextError(str(exc)) from None
    if settings.CRDS_OBSERVATORY not in name:
        raise ContextError(f"Requested context '{name}' doesn't match the observatory "
                           f"'{settings.CRDS_OBSERVATORY}' supported by this server.")
    if not storage.is_mapping(name):
        raise ContextError(f"'{name}' is not a mapping (.pmap, .imap or .rmap).")
    entry = cache.distributable_index().get(name)
    if entry is None or entry[0] != "mapping":
        try:
            record = catalog.get_record(name)
        except catalog.UnknownFile as exc:
            raise ContextError(str(exc)) from None
        if not record.available or record.type != "mapping":
            raise ContextError(f"File '{name}' is not yet available.")
    cache.see_distributable(name)
    return name


def load_mapping(name: str):
    """The loaded crds mapping `name`, kept in memory for later requests of this worker."""
    try:
        return rmap.get_cached_mapping(name)
    except Exception as exc:
        raise ContextError(f"Cannot load mapping '{name}': {strip_paths(str(exc))}") from None


def resolve_context_spec(spec: str) -> str:
    """The pmap, imap, rmap or "N/A" that a context specification names (crds-protocol.md §3).

    Literal mapping names must be cataloged and distributable; dates walk the
    latest-context history; tags read the pointers; `-instrument` and
    `-filekind` descend into the chosen pmap with the crds library.
    """
    if not isinstance(spec, str) or not spec or len(spec) > 200:
        raise ContextError(f"Invalid context specification {str(spec)[:64]!r}: use {SPEC_FORMS}")
    spec = spec.strip()
    if crds_config.is_mapping(spec):
        return check_distributable_mapping(spec)
    if spec in SPEC_TAGS:
        return pointer_context(spec)
    if re.fullmatch(crds_config.CONTEXT_DATETIME_RE_STR, spec):
        return context_by_date(parse_spec_date(spec))
    # crds' CONTEXT_RE anchors only its first alternative; match the whole spec here.
    match = re.fullmatch(crds_config.CONTEXT_RE_STR, spec)
    if not match or not match.group("date"):
        raise ContextError(f"Invalid context specification {spec[:64]!r}: use {SPEC_FORMS}")
    parts = match.groupdict()
    check_observatory(parts["observatory"])
    tag = parts["date"]
    pmap = pointer_context(tag) if tag in SPEC_TAGS else context_by_date(parse_spec_date(tag))
    if not parts["instrument"]:
        return pmap
    return _descend(pmap, parts["instrument"], parts["filekind"])


def _descend(pmap: str, instrument: str, filekind: str | None) -> str:
    """The imap of `instrument` in `pmap`, or that imap's rmap for `filekind` ("N/A" if marked so)."""
    loaded = load_mapping(pmap)
    known = sorted(instr.lower() for instr in getattr(loaded.obs_package, "INSTRUMENTS", loaded.selections))
    if instrument not in known:
        raise ContextError(f"Unknown instrument '{instrument}': use one of {', '.join(known)}.")
    imap = loaded.selections.get(instrument)
    if imap is None:
        raise ContextError(f"Context '{pmap}' has no rules for instrument '{instrument}'.")
    if isinstance(imap, str):
        return imap.upper() if imap.upper() == "N/A" else imap
    if not filekind:
        return imap.basename
    selection = imap.selections.get(filekind)
    if selection is None:
        raise ContextError(f"Unknown reference type '{filekind}' for instrument '{instrument}' "
                           f"in '{imap.basename}'.")
    if isinstance(selection, str):
        return "N/A" if selection.upper() == "N/A" else selection
    return selection.basename


def mapping_closure(name: str) -> list[str]:
    """Every mapping a pmap, imap or rmap names, itself included, sorted."""
    loaded = load_mapping(name)
    try:
        return sorted(set(loaded.mapping_names()))
    except Exception as exc:
        raise ContextError(f"Cannot read the rules of '{name}': {strip_paths(str(exc))}") from None


def reference_closure(name: str) -> list[str]:
    """Every reference file a mapping names, without N/A, OMIT or other placeholders."""
    loaded = load_mapping(name)
    try:
        names = set(loaded.reference_names())
    except Exception as exc:
        raise ContextError(f"Cannot read the rules of '{name}': {strip_paths(str(exc))}") from None
    return sorted(ref for ref in names if crds_config.is_reference(ref))


def strip_paths(text: str) -> str:
    """`text` without the directories of any absolute file-system path in it."""
    return _ABS_PATH.sub("", text)[:2000]


_ABS_PATH = re.compile(r"(?<![\w.])/(?:[^\s'\"/]+/)+")


def meta_event(text: str) -> None:
    """Append a line to server_logs/meta_events.log: context-pointer changes and remote echoes."""
    path = settings.CRDS_ROOT / "server_logs" / "meta_events.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as log:
        log.write(f"{datetime.datetime.now()} {text}\n")
