"""What the JSON-RPC methods compute: catalog views, best references, remote and build contexts.

Plain functions, callable from views, management commands and tasks as well;
they raise RpcError (or ContextError) with a message a caller can act on.
"""

from __future__ import annotations

import base64
import datetime
import fnmatch
import json
import re
import sqlite3
import tempfile
import uuid
import zlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from interactive import cache, catalog, contexts, storage
from interactive.models import BuildContext, ContextHistory, FileRecord, RemoteContext

from jsonapi.registry import RpcError

INFO_FIELDS = tuple(f.name for f in FileRecord._meta.fields if f.name not in catalog.PRIVATE_FIELDS + ("id",))
NAME_QUERY_CHUNK = 900  # below SQLite's bound-parameter limit; fine for MariaDB too
GLOB_RE = re.compile(r"^[A-Za-z0-9_.*+()\-\[\]]{1,128}\Z")
HEADER_KEY_RE = re.compile(r"^[A-Za-z0-9_\-.]{1,256}\Z")
MAX_HEADER_VALUE = 1024
REFTYPE_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}\Z")
DATASET_ID_RE = re.compile(r"^[A-Za-z0-9_.+\-]{1,128}(:[A-Za-z0-9_.+\-]{1,128})?\Z")
REMOTE_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,80}\Z")
KEY_RE = re.compile(r"^\w{1,64}\Z")
CALVER_RE = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,9}(\.[0-9]{1,9})?)?\Z")
MASTER_VERSION_RE = re.compile(r"^[a-zA-Z\-.0-9_]{1,128}\Z")
PUSH_KINDS = ("latest", "operational")


# ---------------------------------------------------------------------------
# Catalog

def check_fields(fields: list | None) -> tuple[str, ...]:
    """The catalog fields a caller asked for (None = all), each one checked."""
    if fields is None:
        return INFO_FIELDS
    for field in fields:
        if not isinstance(field, str) or field.lower() not in INFO_FIELDS:
            raise RpcError(f"Unknown catalog field {str(field)[:40]!r}: use any of {', '.join(INFO_FIELDS)}.")
    return tuple(dict.fromkeys(field.lower() for field in fields))


def _text(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value).lower()


def file_info_map(files: list | None, fields: list | None) -> dict[str, Any]:
    """{name: {field: str} | "NOT FOUND"} for cataloged files; pending uploads are never shown.

    A name that is not a valid CRDS file name cannot be cataloged, so it is
    simply "NOT FOUND".  Names are looked up in chunks, so the 43,800 names
    of `crds sync --check-files` cost a few dozen queries.
    """
    wanted = check_fields(fields)
    columns = ("name",) + wanted
    records = catalog.cataloged()
    result: dict[str, Any] = {}

    def add(rows) -> None:
        for name, *values in rows:
            result[name] = dict(zip(wanted, map(_text, values), strict=True))

    if files is None:
        add(records.values_list(*columns).iterator(chunk_size=5000))
        return result
    names = []
    for name in files:
        if not isinstance(name, str):
            raise RpcError(f"File names must be strings, not {type(name).__name__}.")
        result[name] = "NOT FOUND"
        if storage.FILENAME_RE.match(name):
            names.append(name)
    for start in range(0, len(names), NAME_QUERY_CHUNK):
        add(records.filter(name__in=names[start:start + NAME_QUERY_CHUNK]).values_list(*columns))
    return result


def distributable_record(filename: str) -> FileRecord:
    """A cataloged, distributable record, or an error saying which it is not."""
    storage.check_filename(filename)
    record = catalog.cataloged().filter(name=filename).first()
    if record is None:
        raise RpcError(f"File '{filename}' is not known to CRDS.")
    if not record.available:
        raise RpcError(f"File '{filename}' is not yet available.")
    return record


def list_names(kind: str, glob: str | None) -> list[str]:
    """Distributable mappings or references matching `glob`, sorted."""
    glob = "*" if glob is None else glob
    if not GLOB_RE.match(glob):
        raise RpcError(f"Invalid file pattern {glob[:140]!r}: use letters, digits and _ . * + ( ) - [ ].")
    from jsonapi import server_info

    names = server_info.distributable_names(kind)
    return names if glob == "*" else fnmatch.filter(names, glob)


# ---------------------------------------------------------------------------
# Contexts

def context_specs(context: str | list) -> list[str]:
    """One spec or a list of specs, each a string."""
    specs = context if isinstance(context, list) else [context]
    if not specs:
        raise RpcError("Give at least one context.")
    for spec in specs:
        if not isinstance(spec, str):
            raise RpcError(f"Contexts must be strings, not {type(spec).__name__}.")
    return specs


def resolve_mapping(spec: str) -> str:
    """A spec resolved to a mapping name; "N/A" (a type that does not apply) is an error here."""
    name = contexts.resolve_context_spec(spec)
    if name == "N/A":
        raise RpcError(f"Context '{spec}' names a reference type marked N/A; it has no rules.")
    return name


def require_pmap(spec: str) -> str:
    name = resolve_mapping(spec)
    if not name.endswith(".pmap"):
        raise RpcError(f"Context '{spec}' resolves to '{name}'; a .pmap is required here.")
    return name


def mapping_names(context: str | list) -> list[str]:
    names: set[str] = set()
    for spec in context_specs(context):
        names.update(contexts.mapping_closure(resolve_mapping(spec)))
    return sorted(names)


def reference_names(context: str | list) -> list[str]:
    names: set[str] = set()
    for spec in context_specs(context):
        names.update(contexts.reference_closure(resolve_mapping(spec)))
    return sorted(names)


def default_context(state: str | None) -> str:
    state = "latest" if state is None else state
    if state not in contexts.SPEC_TAGS:
        raise RpcError(f"Unknown context state {state[:40]!r}: use one of {', '.join(contexts.SPEC_TAGS)}.")
    return contexts.pointer_context(state)


def build_context(calver: str | None) -> str:
    """The context registered for a calibration software version, else its nearest earlier patch."""
    if calver is None:
        return contexts.pointer_context("build")
    if not CALVER_RE.match(calver):
        raise RpcError(f"Invalid calibration software version {calver[:40]!r}: use e.g. 1.15.1.")
    exact = BuildContext.objects.filter(cal_ver=calver).first()
    if exact:
        return exact.context
    parts = calver.split(".")
    if len(parts) == 3:
        major_minor, patch = ".".join(parts[:2]), int(parts[2])
        candidates = []
        for row in BuildContext.objects.filter(cal_ver__startswith=major_minor + "."):
            rest = row.cal_ver[len(major_minor) + 1:]
            if rest.isdigit() and int(rest) < patch:
                candidates.append((int(rest), row.context))
        if candidates:
            return max(candidates)[1]
    raise RpcError(f"No build context is registered for calibration software version '{calver}'.")


def context_history() -> list[list[str]]:
    return [[str(row.start_date), row.context, row.description] for row in contexts.public_history()]


def required_parkeys(context: str) -> dict[str, list[str]] | list[str]:
    loaded = contexts.load_mapping(resolve_mapping(context))
    parkeys = loaded.get_required_parkeys()
    if isinstance(parkeys, dict):
        return {instrument: list(keys) for instrument, keys in parkeys.items()}
    return list(parkeys)


# ---------------------------------------------------------------------------
# Best references

def check_header(header: dict) -> dict[str, str]:
    """A flat header of string values with CRDS-style keys."""
    checked = {}
    for key, value in header.items():
        if not HEADER_KEY_RE.match(key):
            raise RpcError(f"Invalid header keyword {key[:64]!r}.")
        if isinstance(value, (dict, list)):
            raise RpcError(f"Header value of {key!r} must be a string, not a {type(value).__name__}.")
        value = "UNDEFINED" if value is None else str(value)
        if len(value) > MAX_HEADER_VALUE:
            raise RpcError(f"Header value of {key!r} is longer than {MAX_HEADER_VALUE} characters.")
        checked[key] = value
    return checked


def check_reftypes(reftypes: list | None) -> list[str] | None:
    if reftypes is None:
        return None
    checked = []
    for reftype in reftypes:
        if not isinstance(reftype, str) or not REFTYPE_RE.match(reftype):
            raise RpcError(f"Invalid reference type {str(reftype)[:64]!r}.")
        checked.append(reftype.lower())
    return checked or None


def best_references(pmap: str, header: dict[str, str], include: list[str] | None) -> dict[str, str]:
    """Exactly what a local client computes (heavy_client.hv_best_references)."""
    from crds.core import heavy_client

    try:
        result = heavy_client.hv_best_references(pmap, header, include=include)
    except Exception as exc:
        raise RpcError(f"Best references for context '{pmap}' failed: {exc}") from None
    return {str(key).lower(): str(value) for key, value in result.items()}


def best_references_by_header_map(context: str, header_map: dict, reftypes: list | None) -> dict[str, list]:
    pmap = require_pmap(context)
    include = check_reftypes(reftypes)
    results: dict[str, list] = {}
    for dataset_id, header in header_map.items():
        if not (DATASET_ID_RE.match(dataset_id) or storage.FILENAME_RE.match(dataset_id)):
            raise RpcError(f"Invalid dataset id {dataset_id[:140]!r}.")
        if not isinstance(header, dict):
            raise RpcError(f"The header of {dataset_id!r} must be an object.")
        try:
            results[dataset_id] = [True, best_references(pmap, check_header(header), include)]
        except RpcError as exc:
            results[dataset_id] = [False, f"FAILED: {exc}"]
    return results


def system_versions(master_version: str, context: str | None) -> Any:
    """The JSON content of the CALVER reference for `master_version`."""
    if not MASTER_VERSION_RE.match(master_version):
        raise RpcError(f"Invalid calibration software version {master_version[:140]!r}.")
    if context is None or context.lower() in ("null", "none"):
        context = f"{settings.CRDS_OBSERVATORY}-versions"
    pmap = require_pmap(context)
    # Date and time apart: JWST CALVER rules match META.OBSERVATION.DATE and .TIME as two parameters.
    header = {"INSTRUME": "SYSTEM", "META.INSTRUMENT.NAME": "SYSTEM",
              "CAL_VER": master_version, "META.CALIBRATION_SOFTWARE_VERSION": master_version,
              "DATE-OBS": "2050-01-01", "TIME-OBS": "00:00:00",
              "META.OBSERVATION.DATE": "2050-01-01", "META.OBSERVATION.TIME": "00:00:00"}
    loaded = contexts.load_mapping(pmap)
    try:
        found = loaded.get_best_references(header, include=["calver"]).get("calver", "NOT FOUND")
    except Exception as exc:
        raise RpcError(f"No system versions are defined in '{pmap}' for '{master_version}': {exc}") from None
    if found.startswith("NOT FOUND"):
        raise RpcError(f"No system versions are defined in '{pmap}' for '{master_version}'.")
    try:
        return json.loads(storage.cache_path(found).read_text())
    except (OSError, ValueError):
        raise RpcError(f"The system versions file '{found}' is not available on this server.") from None


# ---------------------------------------------------------------------------
# Remote contexts (server-behaviour.md §4.5)

def add_remote(name: str) -> RemoteContext:
    """Register a remote cache; its key is a new random secret."""
    if not REMOTE_NAME_RE.match(name):
        raise RpcError(f"Invalid remote cache name {name[:100]!r}: use letters, digits, '.', '_' and '-'.")
    if RemoteContext.objects.filter(name=name).exists():
        raise RpcError(f"Remote cache '{name}' is already registered.")
    return RemoteContext.objects.create(name=name, observatory=settings.CRDS_OBSERVATORY, key=uuid.uuid4().hex)


def push_remote_context(kind: str, key: str, context: str) -> None:
    """Record the context a registered remote cache now holds (only when it changed)."""
    kind = kind.lower()
    if kind not in PUSH_KINDS:
        raise RpcError(f"Unknown remote context kind {kind[:40]!r}: use 'latest' or 'operational'.")
    if not KEY_RE.match(key):
        raise RpcError("Unknown remote context key.")
    if not re.match(r"^\w+\.pmap\Z", context):
        raise RpcError(f"Invalid context {context[:140]!r}: give a .pmap name.")
    contexts.check_distributable_mapping(context)
    with transaction.atomic():
        remote = RemoteContext.objects.select_for_update().filter(
            key=key, observatory=settings.CRDS_OBSERVATORY).first()
        if remote is None:
            raise RpcError("Unknown remote context key.")
        if remote.context == context:
            return None
        old = remote.context
        remote.context, remote.kind, remote.updated = context, "latest", datetime.datetime.now()
        remote.save()
    contexts.meta_event(f"remote context '{remote.name}' changed from '{old}' to '{context}'")
    return None


def get_remote_context(name: str) -> str:
    if not REMOTE_NAME_RE.match(name):
        raise RpcError(f"Invalid remote cache name {name[:100]!r}.")
    remote = RemoteContext.objects.filter(name=name, observatory=settings.CRDS_OBSERVATORY).first()
    if remote is None:
        raise RpcError(f"Unknown remote cache '{name}'.")
    if not remote.context:
        raise RpcError(f"Remote cache '{name}' has not pushed a context yet.")
    return remote.context


# ---------------------------------------------------------------------------
# SQLite export (crds sync --fetch-sqlite-db, crds sql)

_SQL_TYPES = {"BooleanField": "INTEGER", "BigIntegerField": "INTEGER", "IntegerField": "INTEGER",
              "BigAutoField": "INTEGER", "AutoField": "INTEGER"}


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime.datetime):
        return str(value)
    return value


def _export_table(db: sqlite3.Connection, table: str, rows, exclude: tuple[str, ...] = ()) -> None:
    fields = [f for f in rows.model._meta.fields if f.name not in exclude]
    columns = ", ".join(f'"{f.column}" {_SQL_TYPES.get(f.get_internal_type(), "TEXT")}' for f in fields)
    db.execute(f'CREATE TABLE "{table}" ({columns})')
    marks = ", ".join("?" for _ in fields)
    rows = rows.order_by("id").values_list(*[f.name for f in fields])
    db.executemany(f'INSERT INTO "{table}" VALUES ({marks})',
                   ([_sqlite_value(v) for v in row] for row in rows.iterator(chunk_size=5000)))


def build_sqlite_db() -> str:
    """base64(zlib(SQLite file)) of the catalog (private columns dropped) and context history."""
    obs = settings.CRDS_OBSERVATORY
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crds.sqlite3"
        db = sqlite3.connect(path)
        try:
            _export_table(db, f"crds_{obs}_catalog", catalog.cataloged(), exclude=catalog.PRIVATE_FIELDS)
            _export_table(db, f"crds_{obs}_context_history", ContextHistory.objects.all())
            db.commit()
        finally:
            db.close()
        data = path.read_bytes()
    return base64.b64encode(zlib.compress(data)).decode("ascii")


def sqlite_db() -> str:
    return cache.cached("sqlite-db", build_sqlite_db)
