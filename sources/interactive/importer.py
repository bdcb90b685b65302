"""Initialise the catalog: import a standard CRDS cache, or bootstrap an empty rule set.

`import_cache` catalogs every mapping and reference of a crds cache
(mappings/<obs>/, references/<obs>/, config/<obs>/server_config), the files
only listed in the server_config's download_metadata, the context history,
the context pointers and the bad-files list.  `bootstrap` writes a pmap, one
imap per instrument and empty rmaps from the crds package's type specs so a
brand-new server has rules to serve.

Both refuse a non-empty catalog unless forced, check everything they can
before changing anything, and write the catalog in one transaction; files
copied into the server cache are removed again if the transaction fails.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import datetime
import getpass
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crds.core import config as crds_config
from crds.core import rmap, utils
from django.conf import settings
from django.db import connection, models, transaction

from interactive import cache as catalog_cache
from interactive import catalog, headers, storage
from interactive.models import ARCHIVED, LATEST, ContextHistory, ContextPointer, FileRecord

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
READ_ONLY = 0o444
HEADER_RE = re.compile(r"^header\s*=\s*(\{.*?^\})", re.S | re.M)
# Quoted file names inside a mapping's selector: the files the mapping refers to.
NAMED_FILE_RE = re.compile(r"'([A-Za-z0-9_.\-]+\.[A-Za-z0-9]+)'")
GEIS_HEADER_RE = re.compile(r"\.r\dh$")  # its data file, .rNd, goes wherever it goes
# The pmap selector parameter of each observatory, as in its published pmaps.
INSTRUMENT_PARKEYS = {"hst": "INSTRUME", "jwst": "META.INSTRUMENT.NAME", "roman": "ROMAN.META.INSTRUMENT.NAME"}
POINTER_KEYS = (("latest", "operational_context"), ("edit", "edit_context"), ("versions", "versions_context"))


class ImportFailed(Exception):
    """The catalog cannot be initialised from what was given; nothing was changed."""


@dataclass
class ImportReport:
    """What an import or bootstrap did, for the command output and the audit row."""

    source: str
    mappings: int = 0
    references: int = 0
    metadata_only: int = 0
    history: int = 0
    rejected: int = 0
    blacklisted: int = 0
    pointers: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def files(self) -> int:
        return self.mappings + self.references + self.metadata_only

    def summary(self) -> str:
        pointers = ", ".join(f"{kind}={name}" for kind, name in self.pointers.items()) or "none"
        return (f"{self.files} files from {self.source}: {self.mappings} mappings, {self.references} references "
                f"held, {self.metadata_only} known only from download_metadata; {self.history} context-history "
                f"rows; {self.rejected} rejected, {self.blacklisted} blacklisted; pointers {pointers}; "
                f"{len(self.problems)} damaged or unreadable files.")


# ---------------------------------------------------------------------------- shared checks

def catalog_is_empty() -> bool:
    return not (FileRecord.objects.exists() or ContextPointer.objects.exists() or ContextHistory.objects.exists())


def check_can_write(force: bool) -> None:
    if not force and not catalog_is_empty():
        raise ImportFailed(
            f"The catalog already holds {FileRecord.objects.count()} files. "
            "Use --force to delete the catalog, context history and pointers and start again.")


# ---------------------------------------------------------------------------- server_config

def read_server_config(path: Path) -> dict:
    """A cache's server_config: the Python-literal dict crds writes."""
    try:
        info = ast.literal_eval(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, SyntaxError, UnicodeDecodeError) as exc:
        raise ImportFailed(f"Cannot read {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(info, dict):
        raise ImportFailed(f"{path} does not hold a server-info dictionary.")
    return info


def decode_download_metadata(value: object) -> dict[str, dict]:
    """download_metadata as {name: {"sha1sum", "size"}}, decoding the crds_encoded form."""
    if not value:
        return {}
    if isinstance(value, dict) and "crds_payload" in value:
        try:
            value = json.loads(gzip.decompress(base64.b64decode(value["crds_payload"])))
        except (ValueError, OSError) as exc:
            raise ImportFailed(f"Cannot decode download_metadata: {exc}") from None
    if not isinstance(value, dict):
        raise ImportFailed("download_metadata is neither a dictionary nor crds_encoded.")
    return value


def locate_cache(cache_dir: Path, observatory: str) -> tuple[Path, Path, Path]:
    """(server_config, mappings dir, references dir) of `cache_dir`, or a clear ImportFailed."""
    if cache_dir.exists() and not cache_dir.is_dir():
        raise ImportFailed(f"{cache_dir} is not a directory: give the top directory of a CRDS cache.")
    if not cache_dir.is_dir():
        raise ImportFailed(f"No such directory: {cache_dir}")
    config_path = cache_dir / "config" / observatory / "server_config"
    mappings = cache_dir / "mappings" / observatory
    references = cache_dir / "references" / observatory
    if not config_path.is_file() and not mappings.is_dir():
        others = sorted({p.parent.name for p in cache_dir.glob("config/*/server_config")}
                        | {p.name for p in cache_dir.glob("mappings/*") if p.is_dir()})
        if others:
            raise ImportFailed(f"{cache_dir} is a CRDS cache of {', '.join(others)}, not of {observatory}: "
                               f"this server serves {observatory} only.")
        raise ImportFailed(f"{cache_dir} is not a CRDS cache: expected mappings/{observatory}/ and "
                           f"config/{observatory}/server_config inside it.")
    if not config_path.is_file():
        raise ImportFailed(f"{cache_dir} has no config/{observatory}/server_config: run 'crds sync' "
                           "to complete the cache first.")
    if not mappings.is_dir():
        raise ImportFailed(f"{cache_dir} has no mappings/{observatory}/ directory.")
    return config_path, mappings, references


# ---------------------------------------------------------------------------- scanning

@dataclass
class Scanned:
    """One file found in (or listed by) the cache, ready to become a FileRecord."""

    name: str
    fields: dict
    source: Path | None = None
    children: tuple[str, ...] = ()


def _mapping_header(text: str) -> dict:
    match = HEADER_RE.search(text)
    if not match:
        raise ValueError("no header dictionary")
    header = ast.literal_eval(match.group(1))
    if not isinstance(header, dict):
        raise ValueError("header is not a dictionary")
    return header


def _properties(observatory: str, path: Path) -> tuple[str, str]:
    """(instrument, filekind) by the crds locator, from the name or the file's header."""
    instrument, filekind = utils.get_locator_module(observatory).get_file_properties(str(path))
    return (instrument or "").lower(), (filekind or "").lower()


class _quiet_crds:
    """Keep crds's log lines out of the command output (problems are reported) and skip its
    per-call garbage collection, which costs seconds over 40,000 files."""

    def __enter__(self):
        from crds.core import log as crds_log

        self._log = crds_log
        self._old = crds_log.get_verbose()
        crds_log.set_verbose(False)
        self._gc = crds_config.EXPLICIT_GARBAGE_COLLECTION.set("False")
        return self

    def __exit__(self, *exc):
        self._log.set_verbose(self._old)
        crds_config.EXPLICIT_GARBAGE_COLLECTION.set(str(self._gc))
        return False


def scan_mappings(directory: Path, observatory: str, metadata: dict, problems: list[str]) -> list[Scanned]:
    """Every mapping file in `directory`, with its header fields and the files it names.

    The header is read as the literal dict it is (the full crds load of 2,300
    mappings would take half a minute); the crds checksum rule is applied to
    report mappings whose recorded sha1sum does not match their text.
    """
    scanned = []
    for path in sorted(directory.iterdir()):
        name = path.name
        if not path.is_file():
            continue
        if not storage.is_mapping(name):
            problems.append(f"{name}: not a mapping, found among the mappings; skipped.")
            continue
        if not storage.FILENAME_RE.match(name):
            problems.append(f"{name}: not an acceptable CRDS file name; skipped.")
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(f"{name}: cannot be read ({exc.strerror or exc}); skipped.")
            continue
        fields = {"type": "mapping", "sha1sum": hashlib.sha1(data).hexdigest(), "size": len(data)}
        text = data.decode("utf-8", "replace")
        header: dict = {}
        try:
            header = _mapping_header(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            problems.append(f"{name}: unparsable mapping header ({type(exc).__name__}); cataloged by name only.")
        if header:
            recorded = header.get("sha1sum")
            if recorded is None:
                problems.append(f"{name}: mapping has no sha1sum in its header.")
            elif rmap.Mapping._get_checksum(None, text) != recorded:
                problems.append(f"{name}: mapping checksum does not match its header sha1sum.")
            derived = str(header.get("derived_from") or "none")
            fields["derived_from"] = derived[:128]
            if header.get("description"):
                fields["comment"] = str(header["description"])
        listed = metadata.get(name)
        if listed and listed.get("sha1sum") not in (None, fields["sha1sum"]):
            problems.append(f"{name}: sha1sum differs from the server_config's download_metadata.")
        try:
            fields["instrument"], fields["filekind"] = _properties(observatory, path)
        except Exception:
            fields["instrument"] = str(header.get("instrument", "unknown")).lower()
            fields["filekind"] = str(header.get("filekind", "unknown")).lower()
            if name.endswith(".pmap"):
                fields["instrument"] = fields["filekind"] = ""
            elif name.endswith(".imap"):
                fields["filekind"] = ""
        children = tuple(n for n in NAMED_FILE_RE.findall(text.split("selector", 1)[-1]) if n != name)
        scanned.append(Scanned(name, fields, path, children))
    return scanned


def scan_references(directory: Path, observatory: str, metadata: dict, problems: list[str]) -> list[Scanned]:
    """Every reference file held in the cache: checksum, size, type and header metadata."""
    scanned = []
    if not directory.is_dir():
        return scanned
    for path in sorted(directory.rglob("*")):
        name = path.name
        if not path.is_file() or name.startswith("."):
            continue
        if not storage.FILENAME_RE.match(name):
            problems.append(f"{name}: not an acceptable CRDS file name; skipped.")
            continue
        try:
            fields = {"type": "reference", "sha1sum": storage.sha1_file(path), "size": path.stat().st_size}
        except OSError as exc:
            problems.append(f"{name}: cannot be read ({exc.strerror or exc}); skipped.")
            continue
        listed = metadata.get(name)
        if listed and listed.get("sha1sum") not in (None, fields["sha1sum"]):
            problems.append(f"{name}: sha1sum differs from the server_config's download_metadata.")
        try:
            fields["instrument"], fields["filekind"] = _properties(observatory, path)
        except Exception as exc:
            problems.append(f"{name}: cannot determine instrument and type ({exc}).")
            fields["instrument"] = fields["filekind"] = "unknown"
        fields.update(headers.reference_metadata(path, observatory))
        scanned.append(Scanned(name, fields, path))
    return scanned


def scan_metadata_only(metadata: dict, held: set[str], observatory: str, kinds: dict[str, tuple[str, str]],
                       problems: list[str]) -> list[Scanned]:
    """Files the server_config lists but the cache does not hold: known, not present."""
    scanned = []
    for name in sorted(set(metadata) - held):
        info = metadata[name]
        if not storage.FILENAME_RE.match(name):
            problems.append(f"{name[:140]!r}: not an acceptable CRDS file name in download_metadata; skipped.")
            continue
        try:
            size = int(info.get("size", -1))
        except (TypeError, ValueError, AttributeError):
            size = -1
        sha1sum = str(info.get("sha1sum") or "none") if isinstance(info, dict) else "none"
        fields = {"type": "mapping" if storage.is_mapping(name) else "reference",
                  "sha1sum": sha1sum[:40], "size": size, "present": False}
        if name in kinds:
            fields["instrument"], fields["filekind"] = kinds[name]
        else:
            try:
                fields["instrument"], fields["filekind"] = _properties(observatory, Path(name))
            except Exception:
                fields["instrument"] = fields["filekind"] = "unknown"
        scanned.append(Scanned(name, fields))
    return scanned


def reference_kinds(mappings: list[Scanned]) -> dict[str, tuple[str, str]]:
    """(instrument, filekind) of every reference named by an rmap, from that rmap."""
    kinds = {}
    for scanned in mappings:
        if scanned.name.endswith(".rmap"):
            kind = (scanned.fields.get("instrument", ""), scanned.fields.get("filekind", ""))
            for child in scanned.children:
                kinds.setdefault(child, kind)
    return kinds


def closure(root: str, children: dict[str, tuple[str, ...]]) -> set[str]:
    """`root` and every file it names, directly or through nested mappings.

    GEIS references bring their data-file partner (.rNh -> .rNd) along, as
    state changes do (server-behaviour.md §3.3).
    """
    seen: set[str] = set()
    todo = [root] if root else []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(children.get(name, ()))
    partners = {n[:-1] + "d" for n in seen if GEIS_HEADER_RE.search(n)}
    return seen | partners


def users_of(rejected: Iterable[str], children: dict[str, tuple[str, ...]]) -> set[str]:
    """Rejected mappings and every mapping containing one, directly or indirectly (§3.4)."""
    todo = [name for name in rejected if storage.is_mapping(name)]
    if not todo:
        return set()
    parents: dict[str, set[str]] = {}
    for parent, named in children.items():
        if parent.endswith(".rmap"):  # rmaps name references only
            continue
        for child in named:
            parents.setdefault(child, set()).add(parent)
    found: set[str] = set()
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        todo.extend(parents.get(name, ()))
    return found


def activation_dates(history: list[ContextHistory],
                     children: dict[str, tuple[str, ...]]) -> dict[str, datetime.datetime]:
    """{file: start of the first history context whose closure holds it}: when it first became latest (§2.1).

    Contexts are walked oldest first, and a mapping already dated is not
    walked again: everything it names was dated with it, no later.  So each
    mapping is read once however many contexts share it.
    """
    dated: dict[str, datetime.datetime] = {}
    for row in sorted(history, key=lambda row: row.start_date):
        start = row.start_date
        todo = [] if row.context in dated else [row.context]
        dated.setdefault(row.context, start)
        while todo:
            for child in children.get(todo.pop(), ()):
                if child in dated:
                    continue
                dated[child] = start
                if child in children:
                    todo.append(child)
                elif GEIS_HEADER_RE.search(child):
                    dated.setdefault(child[:-1] + "d", start)  # the GEIS data file goes with its header
    return dated


def parse_history(entries: object, problems: list[str]) -> list[ContextHistory]:
    """server_config context_history rows ([date, context, description]) as latest-history rows."""
    rows = []
    for entry in entries or []:
        try:
            date, context, description = entry[0], entry[1], entry[2] if len(entry) > 2 else ""
            start = datetime.datetime.fromisoformat(str(date).strip())
        except (TypeError, ValueError, IndexError):
            problems.append(f"context_history entry {str(entry)[:80]!r}: unreadable; skipped.")
            continue
        rows.append(ContextHistory(start_date=start, context=str(context), state="latest",
                                   description=str(description or "")))
    return rows


# ---------------------------------------------------------------------------- file installation

class _Installer:
    """Puts files into the server cache read-only and can take back what it added."""

    def __init__(self, link: bool = True) -> None:
        self.created: list[Path] = []
        self.link = link

    def install(self, source: Path, name: str, sha1sum: str) -> None:
        dest = storage.cache_path(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            if dest.stat().st_size == source.stat().st_size and storage.sha1_file(dest) == sha1sum:
                if dest.stat().st_mode & 0o777 != READ_ONLY:
                    os.chmod(dest, READ_ONLY)
                return
            dest.unlink()  # never chmod or rewrite in place: it may be a hard link to the source cache
        # Link when the source is already read-only on this filesystem; otherwise copy, so the
        # source's permissions are never changed.
        source_stat = source.stat()
        if (self.link and (source_stat.st_mode & 0o777) == READ_ONLY
                and source_stat.st_dev == dest.parent.stat().st_dev):
            try:
                os.link(source, dest)
                self.created.append(dest)
                return
            except OSError:
                pass
        shutil.copyfile(source, dest)
        self.created.append(dest)
        os.chmod(dest, READ_ONLY)

    def write_text(self, name: str, text: str) -> None:
        dest = storage.cache_path(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            dest.unlink()
        dest.write_text(text)
        self.created.append(dest)
        os.chmod(dest, READ_ONLY)

    def undo(self) -> None:
        for path in self.created:
            remove_file(path)


def remove_file(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _held_names() -> set[str]:
    return set(FileRecord.objects.filter(present=True).values_list("name", flat=True))


def wipe_catalog() -> None:
    """Delete catalog rows, context history and pointers (the --force part; files go after commit).

    Plain SQL: a queryset delete would send a signal per record, seconds for 40,000 rows.
    """
    with connection.cursor() as cursor:
        for model in (FileRecord, ContextHistory, ContextPointer):
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
    catalog_cache.invalidate_on_commit()


def _remove_stale_files(old: set[str], kept: set[str]) -> None:
    for name in sorted(old - kept):
        try:
            remove_file(storage.cache_path(name))
        except storage.BadName:
            continue


@contextlib.contextmanager
def _replacing_catalog(force: bool, installer: _Installer, kept: set[str]) -> Iterator[None]:
    """One transaction that (with --force) wipes the catalog and writes the new one.

    On failure the files the installer put in the cache are removed again; on success the
    files of the old catalog that the new one does not hold are removed after the commit.
    """
    old_files: set[str] = set()
    try:
        with transaction.atomic():
            if force:
                old_files = _held_names()
                wipe_catalog()
            storage.make_dirs()
            yield
    except BaseException:
        installer.undo()
        raise
    _remove_stale_files(old_files, kept)


def _write_records(scanned: list[Scanned], observatory: str, states: set[str], rejected: set[str],
                   blacklisted: set[str], activations: dict[str, datetime.datetime]) -> None:
    """Insert the records with executemany: bulk_create's per-object work is most of an import."""
    fields = [f for f in FileRecord._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields}
    prepare = {f.attname: f for f in fields if isinstance(f, models.DateTimeField)}
    table = connection.ops.quote_name(FileRecord._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    rows = []
    prepared: dict[datetime.datetime, object] = {}
    with connection.cursor() as cursor:
        for item in scanned:
            values = dict(defaults, **item.fields)
            values.update(name=item.name, observatory=observatory, state=LATEST if item.name in states else ARCHIVED,
                          rejected=item.name in rejected, blacklisted=item.name in blacklisted)
            if item.name in activations:
                values["activation_date"] = activations[item.name]
            for attname, model_field in prepare.items():
                value = values[attname]
                if value not in prepared:
                    prepared[value] = model_field.get_db_prep_save(value, connection)
                values[attname] = prepared[value]
            rows.append([values[f.attname] for f in fields])
            if len(rows) >= BATCH_SIZE:
                cursor.executemany(sql, rows)
                rows = []
        if rows:
            cursor.executemany(sql, rows)
    catalog_cache.invalidate_on_commit()


def _user(user: str | None) -> str:
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


# ---------------------------------------------------------------------------- import

def import_cache(cache_dir: str | Path, force: bool = False, user: str | None = None,
                 link: bool = True) -> ImportReport:
    """Catalog the CRDS cache at `cache_dir` for this server's observatory.

    Files are hard-linked into the server cache when the source is read-only on the same
    filesystem, else copied; `link=False` always copies.
    """
    started = time.monotonic()
    observatory = settings.CRDS_OBSERVATORY
    cache_dir = Path(cache_dir).expanduser().absolute()
    config_path, mappings_dir, references_dir = locate_cache(cache_dir, observatory)
    info = read_server_config(config_path)
    claimed = str(info.get("observatory", observatory)).lower()
    if claimed != observatory:
        raise ImportFailed(f"{config_path} describes a {claimed} server: this server serves {observatory} only.")
    metadata = decode_download_metadata(info.get("download_metadata"))
    check_can_write(force)

    report = ImportReport(source=str(cache_dir))
    problems = report.problems
    with _quiet_crds():
        mappings = scan_mappings(mappings_dir, observatory, metadata, problems)
        references = scan_references(references_dir, observatory, metadata, problems)
        held = {s.name for s in mappings} | {s.name for s in references}
        duplicates = len(mappings) + len(references) - len(held)
        if duplicates:
            problems.append(f"{duplicates} reference names occur more than once under references/{observatory}/; "
                            "the first of each was used.")
            seen: set[str] = set()
            references = [s for s in references if not (s.name in seen or seen.add(s.name))]
        missing = scan_metadata_only(metadata, held, observatory, reference_kinds(mappings), problems)
    children = {s.name: s.children for s in mappings}

    pointers = {kind: str(info.get(key) or "") for kind, key in POINTER_KEYS if info.get(key)}
    operational = pointers.get("latest", "")
    if operational and operational not in children:
        problems.append(f"operational context {operational} is not in the cache; no file is marked latest.")
    in_operation = closure(operational, children)
    rejected = {str(name) for name in info.get("bad_files_list") or []}
    blacklisted = users_of(rejected, children)
    history = parse_history(info.get("context_history"), problems)
    activations = activation_dates(history, children)

    everything = mappings + references + missing
    names = {s.name for s in everything}
    report.mappings, report.references = len(mappings), len(references)
    report.metadata_only = len(missing)
    report.history = len(history)
    report.rejected = len(rejected & names)
    report.blacklisted = len(blacklisted & names)
    report.pointers = pointers

    installer = _Installer(link)
    with _replacing_catalog(force, installer, held):
        for item in mappings + references:
            try:
                installer.install(item.source, item.name, item.fields["sha1sum"])
            except OSError as exc:
                raise ImportFailed(f"Cannot install {item.name} into the server's file cache: "
                                   f"{exc.strerror or exc}. Nothing was imported.") from None
        _write_records(everything, observatory, in_operation, rejected, blacklisted, activations)
        ContextHistory.objects.bulk_create(history, batch_size=BATCH_SIZE)
        ContextPointer.objects.bulk_create(
            [ContextPointer(kind=kind, context=name) for kind, name in pointers.items()])
        report.seconds = time.monotonic() - started
        # The audit log can be shown on web pages: name the cache, not its server path.
        catalog.audit("mass import", operational or cache_dir.name, _user(user),
                      why=f"Catalog imported from a CRDS cache ({cache_dir.name}).",
                      details=report.summary().replace(str(cache_dir), cache_dir.name)
                      + "".join("\n" + p for p in problems))
    _install_config(config_path)
    report.seconds = time.monotonic() - started
    return report


def _install_config(config_path: Path) -> None:
    """Keep the imported server_config (and bad_files.txt) in the server cache's config/<obs>/."""
    target = storage.config_dir()
    target.mkdir(parents=True, exist_ok=True)
    for source in (config_path, config_path.with_name("bad_files.txt")):
        if source.is_file() and source.resolve() != (target / source.name).resolve():
            shutil.copyfile(source, target / source.name)


# ---------------------------------------------------------------------------- bootstrap

def _date_keys(observatory: str, specs: dict) -> tuple[str, ...]:
    """The use-after parameters of the observatory's template rmaps, e.g. ('DATE-OBS', 'TIME-OBS')."""
    for by_kind in specs.values():
        for spec in by_kind.values():
            parkey = spec.get("parkey")
            if (isinstance(parkey, (list, tuple)) and len(parkey) == 2
                    and all(isinstance(p, (list, tuple)) for p in parkey)):
                return tuple(parkey[1])
    return ()


def _rmap_header(observatory: str, instrument: str, filekind: str, spec: dict, name: str,
                 date_keys: tuple[str, ...]) -> dict:
    header = {k: v for k, v in spec.items()
              if k not in ("sha1sum", "name", "derived_from") and (v is not None or k == "unique_rowkeys")}
    for key in ("reffile_format", "reffile_required", "reffile_switch"):
        if isinstance(header.get(key), str):
            header[key] = header[key].upper()
    if "extra_keys" in header:
        header["extra_keys"] = tuple(str(k).upper() for k in header["extra_keys"])
    parkey = spec.get("parkey", ())
    if parkey and not all(isinstance(p, (list, tuple)) for p in parkey):
        parkey = (tuple(parkey), date_keys) if date_keys else (tuple(parkey),)
    header.update({
        "derived_from": "generated from the crds type specs",
        "filekind": filekind.upper(),
        "instrument": instrument.upper(),
        "mapping": "REFERENCE",
        "name": name,
        "observatory": observatory.upper(),
        "parkey": tuple(tuple(p) for p in parkey) if parkey else ((),),
    })
    return header


def _mapping_text(cls: type, name: str, header: dict, selector: str) -> str:
    """Mapping source with its crds checksum, formatted by the crds library."""
    draft = "header = " + repr(header) + "\n\nselector = " + selector + "\n"
    mapping = cls.from_string(draft, name, ignore_checksum=True)
    mapping.header["sha1sum"] = mapping._get_checksum(mapping.format())
    return mapping.format()


def empty_rules(observatory: str) -> dict[str, str]:
    """{name: text} of a complete empty rule set built from the crds package's type specs."""
    specs = utils.get_observatory_package(observatory).TYPES.unified_defs
    date_keys = _date_keys(observatory, specs)
    texts: dict[str, str] = {}
    pmap_name = f"{observatory}_0000.pmap"
    imaps = {}
    for instrument in sorted(specs):
        if instrument.lower() == "all":
            continue
        imap_name = f"{observatory}_{instrument.lower()}_0000.imap"
        rmaps = {}
        for filekind in sorted(specs[instrument]):
            rmap_name = f"{observatory}_{instrument.lower()}_{filekind.lower()}_0000.rmap"
            if not crds_config.is_valid_mapping_name(rmap_name):
                continue
            header = _rmap_header(observatory, instrument, filekind, specs[instrument][filekind], rmap_name,
                                  date_keys)
            texts[rmap_name] = _mapping_text(rmap.ReferenceMapping, rmap_name, header, "Match({\n})")
            rmaps[filekind.lower()] = rmap_name
        imap_header = {
            "derived_from": "generated from the crds type specs", "instrument": instrument.upper(),
            "mapping": "INSTRUMENT", "name": imap_name, "observatory": observatory.upper(),
            "parkey": ("REFTYPE",),
        }
        texts[imap_name] = _mapping_text(rmap.InstrumentContext, imap_name, imap_header, repr(rmaps))
        imaps[instrument.upper()] = imap_name
    pmap_header = {
        "derived_from": "generated from the crds type specs", "mapping": "PIPELINE", "name": pmap_name,
        "observatory": observatory.upper(),
        "parkey": (INSTRUMENT_PARKEYS.get(observatory, "META.INSTRUMENT.NAME"),),
    }
    texts[pmap_name] = _mapping_text(rmap.PipelineContext, pmap_name, pmap_header, repr(imaps))
    return texts


def bootstrap(force: bool = False, user: str | None = None) -> ImportReport:
    """Catalog a brand-new empty rule set and point latest, edit and versions at its pmap."""
    started = time.monotonic()
    observatory = settings.CRDS_OBSERVATORY
    check_can_write(force)
    try:
        with _quiet_crds():
            texts = empty_rules(observatory)
    except Exception as exc:  # the crds package's specs are outside our control: report, do not crash
        raise ImportFailed(f"Cannot build empty rules for {observatory} from the crds type specs: {exc}") from None
    pmap = f"{observatory}_0000.pmap"
    report = ImportReport(source=f"crds {observatory} type specs", mappings=len(texts), history=1,
                          pointers={"latest": pmap, "edit": pmap, "versions": pmap})
    now = datetime.datetime.now()
    installer = _Installer()
    with _replacing_catalog(force, installer, set(texts)):
        scanned = []
        for name, text in sorted(texts.items()):
            installer.write_text(name, text)
            data = text.encode()
            instrument, filekind = _properties(observatory, storage.cache_path(name))
            scanned.append(Scanned(name, {
                "type": "mapping", "sha1sum": hashlib.sha1(data).hexdigest(), "size": len(data),
                "instrument": instrument, "filekind": filekind,
                "derived_from": "generated from the crds type specs", "delivery_date": now,
                "description": "Empty rules generated at server initialisation.",
            }))
        _write_records(scanned, observatory, set(texts), set(), set(), {pmap: now})
        ContextPointer.objects.bulk_create(
            [ContextPointer(kind=kind, context=pmap) for kind in report.pointers])
        ContextHistory.objects.create(start_date=now, context=pmap, state="latest",
                                      description="Empty rules generated at server initialisation.")
        catalog.audit("mass import", pmap, _user(user), why="Empty rules generated at server initialisation.",
                      details=report.summary())
    if force:
        for name in ("server_config", "bad_files.txt"):
            (storage.config_dir() / name).unlink(missing_ok=True)
    report.seconds = time.monotonic() - started
    return report
