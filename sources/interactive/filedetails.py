"""Everything the file page shows about one cataloged file.

Rules questions (match cases, constraints) go to the crds library against
the server's file cache; the rest comes from the catalog and the audit log.
Each part degrades to a short note when the file or a mapping is missing, so
a metadata-only reference still gets a useful page.
"""

from __future__ import annotations

import logging

from crds import data_file
from crds.core import rmap
from django.db.models import QuerySet

from interactive import cache, catalog, contexts, delivery, storage
from interactive.models import (
    ACTIVATION_PLACEHOLDER,
    INACTIVE_STATES,
    TRANSITORY_STATES,
    USEAFTER_PLACEHOLDER,
    AuditAction,
    FileRecord,
)

log = logging.getLogger(__name__)

MAX_TEXT = 1_000_000  # characters of mapping text shown inline
MAX_ACTIONS = 200
MAX_PREDECESSORS = 5


def status(record: FileRecord) -> str:
    """The derived status of server-behaviour.md §3.2.

    A transitory record shows its live archive progress, read from the
    delivery directories (§6.3), rather than its stored state.
    """
    if record.rejected or record.blacklisted or record.state in INACTIVE_STATES:
        return "bad"
    return delivery.archive_status(record)


def catalog_fields(record: FileRecord) -> list[tuple[str, str]]:
    """The public catalog fields as (label, value), placeholders shown as N/A."""
    def date(value, placeholder):
        return "N/A" if value is None or value == placeholder else value.strftime("%Y-%m-%d %H:%M:%S")

    rows = [
        ("Status", status(record)), ("State", record.state), ("Type", record.type),
        ("Instrument", record.instrument or "-"), ("Reference type", record.filekind or "-"),
        ("Rejected", str(record.rejected)), ("Blacklisted", str(record.blacklisted)),
        ("Derived from", record.derived_from), ("SHA-1", record.sha1sum), ("Size", str(record.size)),
        ("Delivery date", date(record.delivery_date, None)),
        ("Activation date", date(record.activation_date, ACTIVATION_PLACEHOLDER)),
    ]
    if not record.is_mapping:
        rows += [
            ("Useafter date", date(record.useafter_date, USEAFTER_PLACEHOLDER)),
            ("Change level", record.change_level), ("Pedigree", record.pedigree),
            ("Reftype", record.reference_file_type), ("Aperture", record.aperture), ("Descrip", record.comment),
        ]
    rows += [
        ("Uploaded as", record.uploaded_as), ("Creator", record.creator_name),
        ("Deliverer", record.deliverer_user), ("Description", record.description),
        ("Replaced by", record.replaced_by_filename or "-"),
    ]
    return rows


def mapping_text(name: str) -> tuple[str, bool]:
    """(text, truncated) of a mapping in the file cache; "" when absent."""
    path = storage.cache_path(name)
    if not path.exists():
        return "", False
    text = path.read_text(errors="replace")
    return text[:MAX_TEXT], len(text) > MAX_TEXT


def reference_header(name: str) -> list[tuple[str, str]] | None:
    """The header keywords of a reference held locally, or None when it is not here."""
    path = storage.cache_path(name)
    if not path.exists():
        return None
    header = data_file.get_header(str(path))
    return sorted((str(k), str(v)) for k, v in header.items())


def past_actions(name: str) -> list[AuditAction]:
    return list(AuditAction.objects.filter(filename=name).order_by("-date", "-id")[:MAX_ACTIONS])


def _parent_candidates(name: str, instrument: str, filekind: str) -> QuerySet[FileRecord] | None:
    """The cataloged mappings one level above `name` that could name it, or None above a pmap.

    The catalog narrows the candidates: rmaps of the same instrument and type
    for a reference, imaps of the instrument for an rmap, pmaps for an imap.
    """
    candidates = catalog.cataloged().filter(type="mapping")
    if name.endswith(".pmap"):
        return None
    if name.endswith(".imap"):
        return candidates.filter(name__endswith=".pmap")
    if name.endswith(".rmap"):
        return candidates.filter(instrument=instrument, name__endswith=".imap")
    return candidates.filter(instrument=instrument, filekind=filekind, name__endswith=".rmap")


def _naming(names: list[str], candidates: QuerySet[FileRecord]) -> list[str]:
    """The candidates whose text names any of `names`, by a byte search of the cached file.

    Reading the text, rather than parsing it with crds.uses, keeps damaged
    mappings in the cache from breaking the page; each candidate is read once.
    """
    needles = [("'" + name + "'").encode() for name in names]
    found = []
    for candidate in candidates.values_list("name", flat=True):
        try:
            text = storage.cache_path(candidate).read_bytes()
        except OSError:
            continue
        if any(needle in text for needle in needles):
            found.append(candidate)
    return sorted(found)


def users(record: FileRecord) -> list[str]:
    """Mappings that name this file directly."""
    candidates = _parent_candidates(record.name, record.instrument, record.filekind)
    return [] if candidates is None else _naming([record.name], candidates)


def uses(name: str) -> list[tuple[str, list[str]]]:
    """Every mapping that uses `name`, directly or through others, up to the pmaps.

    Returned level by level as (kind, names): ("rmap", ...), ("imap", ...),
    ("pmap", ...), starting above the file itself and stopping at the first
    level nothing names.  Cached per catalog generation.
    """
    storage.check_filename(name)

    def build() -> list[tuple[str, list[str]]]:
        record = catalog.get_record(name)
        if record.state in INACTIVE_STATES:
            raise catalog.UnknownFile(f"File '{name}' is not known to CRDS.")
        levels = []
        level = [name]
        while True:
            candidates = _parent_candidates(level[0], record.instrument, record.filekind)
            if candidates is None:
                break
            level = _naming(level, candidates)
            if not level:
                break
            levels.append((level[0].rsplit(".", 1)[-1], level))
        return levels

    return cache.cached(f"uses:{name}", build)


def _flatten(match_path) -> dict[str, str]:
    flat: dict[str, str] = {}
    for part in match_path:
        if len(part) == 2 and isinstance(part[0], str) and isinstance(part[1], str):
            flat[part[0]] = part[1]
        else:
            flat.update(_flatten(part))
    return flat


def type_rmap(context: str, instrument: str, filekind: str):
    """The rmap `context` uses for a type, or None."""
    if not context or not instrument or not filekind:
        return None
    try:
        pmap = rmap.get_cached_mapping(context)
        return pmap.get_imap(instrument).get_rmap(filekind)
    except Exception as exc:  # a context without the type, or a damaged mapping
        log.info("No rmap for %s %s in %s: %s", instrument, filekind, context, exc)
        return None


def match_cases(record: FileRecord, context: str) -> tuple[str, list[str], list[list[str]]]:
    """(rmap, parameter names, rows) of the match cases selecting a reference in `context`."""
    mapping = type_rmap(context, record.instrument, record.filekind)
    if mapping is None:
        return "", [], []
    cases = [_flatten(match) for match in mapping.file_matches(record.name)]
    skip = {"observatory", "instrument", "filekind"}
    names = [key for key in (cases[0] if cases else {}) if key not in skip]
    return mapping.basename, names, [[case.get(key, "") for key in names] for case in cases]


def constraints(record: FileRecord, context: str) -> list[tuple[str, str]]:
    """Valid values of the type's matching parameters, from the crds certify TPNs."""
    mapping = type_rmap(context, record.instrument, record.filekind)
    if mapping is None:
        return []
    try:
        valid = mapping.get_valid_values_map()
    except Exception as exc:
        log.info("No certify constraints for %s: %s", record.name, exc)
        return []
    return [(key, ", ".join(map(str, values)) or "any") for key, values in sorted(valid.items())]


def predecessors(record: FileRecord) -> list[str]:
    """The derived_from chain of a mapping, newest first, as far as it is cataloged."""
    chain: list[str] = []
    current = record
    while len(chain) < MAX_PREDECESSORS and current.derived_from not in ("", "none"):
        parent = current.derived_from
        if "generated" in parent or parent in chain:
            break
        chain.append(parent)
        try:
            current = catalog.get_record(parent)
        except catalog.UnknownFile:
            break
    return chain


def details(name: str) -> dict:
    """The file page's content, cached for the catalog generation."""
    storage.check_filename(name)
    info = cache.cached(f"file-details:{name}", lambda: _build(name))
    record = info["record"]
    if record.state in TRANSITORY_STATES:
        # Archive progress changes without a catalog change, so it is read live; a
        # finished delivery is stored as `archived` here (§3.3).
        delivery.refresh(record)
        info = {**info, "status": status(record), "fields": catalog_fields(record)}
    return info


def _build(name: str) -> dict:
    record = catalog.get_record(name)
    if record.state in INACTIVE_STATES:
        raise catalog.UnknownFile(f"File '{name}' is not known to CRDS.")
    edit = contexts.get_pointer("edit")
    info = {
        "record": record,
        "status": status(record),
        "fields": catalog_fields(record),
        "actions": past_actions(name),
        "users": users(record),
        "predecessors": predecessors(record),
        "edit_context": edit,
        "text": "", "truncated": False, "header": None, "header_error": "",
        "match_rmap": "", "match_names": [], "match_rows": [], "constraints": [],
    }
    if record.is_mapping:
        info["text"], info["truncated"] = mapping_text(name)
    else:
        try:
            info["header"] = reference_header(name)
        except Exception as exc:
            info["header_error"] = f"The header could not be read: {exc}"
        info["match_rmap"], info["match_names"], info["match_rows"] = match_cases(record, edit)
        info["constraints"] = constraints(record, edit)
    return info
