"""Server backups (server-behaviour.md §12): database, catalogs, deliveries, mappings, cache config.

A backup is a directory `$CRDS/server/db_backups/<YYYY-MM-DD-HHMMSS>/` (mode 0700) holding files
with generic names — `database.sqlite3` or `database.sql`, one tar archive per file area,
`packages.txt` — and `MANIFEST.json`, written last, with the sha1sum and size of each of them.
A copy under the same names is kept in `db_backups/latest/`.  References are not copied (they
are large and the archive holds them); their catalog rows are in the database dump.

A backup is built in a hidden `.partial` directory and renamed only when complete, so a failure
(the database restarted mid-way, a full disk) never leaves a partial backup that looks like the
latest.  Loading a backup checks it completely before anything is changed.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import json
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.db.migrations.recorder import MigrationRecorder
from interactive import delivery, storage

log = logging.getLogger(__name__)

MANIFEST = "MANIFEST.json"
LATEST = "latest"
STAMP_FORMAT = "%Y-%m-%d-%H%M%S"
STAMP_RE = re.compile(r"^\d{4}-\d\d-\d\d-\d{6}\Z")
PRIVATE = 0o700
DB_FILES = {"sqlite": "database.sqlite3", "mariadb": "database.sql"}
PACKAGES = "packages.txt"
DUMP_COMPLETE = b"-- Dump completed"


OWNER_RE = re.compile(r"\(pid (\d+) on (\S+)\)\s*\Z")
PARTIAL_RE = re.compile(r"^\.[\w-]+\.pid(\d+)\.")
REQUIRED_AREAS = ("catalogs", "deliveries", "mappings", "config")


class BackupError(Exception):
    """A backup cannot be made or loaded; nothing was changed (or the partial result was removed)."""


class Interrupted(BackupError):
    """The backup or restore process was asked to stop (SIGTERM)."""


def areas() -> dict[str, Path]:
    """The file areas a backup holds, by archive name: catalogs, every delivery directory, mappings, cache config.

    The first configured delivery directory is `deliveries`, the others `deliveries_2`, `deliveries_3` ...
    """
    found = {"catalogs": storage.catalogs_dir()}
    for number, directory in enumerate(delivery.delivery_dirs(), start=1):
        found["deliveries" if number == 1 else f"deliveries_{number}"] = directory
    return {**found, "mappings": storage.mappings_dir(), "config": storage.config_dir()}


def backups_dir() -> Path:
    return storage.server_dir("db_backups")


def engine() -> str:
    return "sqlite" if connection.vendor == "sqlite" else "mariadb"


def offline_flag() -> Path:
    """The flag file that tells cron jobs and monitors the server is offline for maintenance."""
    return Path(getattr(settings, "CRDS_OFFLINE_FLAG", settings.CRDS_SERVER_DIR / "run" / "server_offline"))


def process_alive(pid: int) -> bool:
    """Whether process `pid` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_offline_flag() -> str:
    """The text of an offline flag whose process (named in it) no longer runs on this host, else "".

    A flag without a process (./run --backup-port, an operator's) or set on another host is never stale.
    """
    try:
        text = offline_flag().read_text().strip()
    except OSError:
        return ""
    owner = OWNER_RE.search(text)
    if owner and owner.group(2) == socket.gethostname() and not process_alive(int(owner.group(1))):
        return text
    return ""


def clear_stale_offline_flag() -> str:
    """Remove an offline flag left by a killed backup or restore; what was done, or ""."""
    text = stale_offline_flag()
    if not text:
        return ""
    offline_flag().unlink(missing_ok=True)
    return f"removed a stale offline flag ({text}): its process no longer runs"


def is_offline() -> bool:
    """Whether the server is offline for maintenance; a flag its killed backup or restore left is
    removed first (and logged), so that no job stays stopped by it."""
    cleared = clear_stale_offline_flag()
    if cleared:
        log.warning("%s", cleared)
    return offline_flag().exists()


def _interrupt(signum: int, frame: object) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second SIGTERM must not interrupt the clean-up
    raise Interrupted(f"interrupted by signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def _terminable() -> Iterator[None]:
    """Turn SIGTERM into an exception, so that the clean-up of the running operation runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def offline(reason: str) -> Iterator[None]:
    """Mark the server offline for maintenance while the block runs (unless it already was).

    The flag names this process and host so that a flag left by a killed process can be seen
    to be stale; SIGTERM ends the block with Interrupted, which removes the flag.
    """
    flag = offline_flag()
    flag.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_offline_flag()
    made = not flag.exists()
    with _terminable():
        try:
            if made:
                flag.write_text(f"{reason} since {datetime.datetime.now():%Y-%m-%d %H:%M:%S} "
                                f"(pid {os.getpid()} on {socket.gethostname()})\n")
            yield
        finally:
            if made:
                flag.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- database


@contextlib.contextmanager
def _mariadb_options() -> Iterator[list[str]]:
    """Client options naming the server's database account, the password in a private file."""
    db = connection.settings_dict
    with tempfile.TemporaryDirectory(prefix="crds-db-") as tmp:
        options = Path(tmp) / "client.cnf"
        options.touch(mode=0o600)
        lines = ["[client]", f"user={db['USER']}", f"password={db['PASSWORD']}"]
        if db.get("HOST"):
            lines.append(f"host={db['HOST']}")
        if db.get("PORT"):
            lines.append(f"port={db['PORT']}")
        options.write_text("\n".join(lines) + "\n")
        yield [f"--defaults-extra-file={options}"]


def _mariadb_tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BackupError(f"Cannot find {names[0]} on PATH: install the MariaDB client tools.")


def dump_database(target: Path) -> None:
    """A consistent copy of the server's database: SQLite's backup API, or mariadb-dump in one transaction."""
    if engine() == "sqlite":
        connection.ensure_connection()
        out = sqlite3.connect(target)
        try:
            connection.connection.backup(out)
        except sqlite3.Error as exc:
            raise BackupError(f"The SQLite backup failed: {exc}") from None
        finally:
            out.close()
        return
    dump = _mariadb_tool("mariadb-dump", "mysqldump")
    with _mariadb_options() as options, open(target, "wb") as out:
        result = subprocess.run([dump, *options, "--single-transaction", "--quick", "--routines", "--no-tablespaces",
                                 "--skip-comments", "--add-drop-table", connection.settings_dict["NAME"]],
                                stdout=out, stderr=subprocess.PIPE)
    if result.returncode:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise BackupError(f"mariadb-dump failed: {message[-1] if message else 'exit ' + str(result.returncode)}")
    with open(target, "ab") as out:
        out.write(DUMP_COMPLETE + b"\n")


def load_database(source: Path) -> None:
    """Replace the server's database with a dump made by dump_database."""
    if engine() == "sqlite":
        connection.ensure_connection()
        backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            backup.backup(connection.connection)
        except sqlite3.Error as exc:
            raise BackupError(f"Loading the SQLite backup failed: {exc}") from None
        finally:
            backup.close()
        return
    client = _mariadb_tool("mariadb", "mysql")
    connections.close_all()
    with _mariadb_options() as options, open(source, "rb") as dump:
        result = subprocess.run([client, *options, connection.settings_dict["NAME"]], stdin=dump,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if result.returncode:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise BackupError(f"Loading the database dump failed: {message[-1] if message else result.returncode}")


def applied_migrations() -> list[str]:
    return sorted(f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations())


def table_counts() -> dict[str, int]:
    from interactive.models import AuditAction, ContextHistory, ContextPointer, FileRecord

    return {model.__name__: model.objects.count() for model in (FileRecord, ContextHistory, ContextPointer,
                                                                 AuditAction)}


# ---------------------------------------------------------------------------- files


def _archive(directory: Path, target: Path) -> None:
    """A tar archive of `directory`'s contents (an absent directory gives an empty archive)."""
    with tarfile.open(target, "w") as tar:
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                tar.add(path, arcname=path.name)


def _extract(archive: Path, target: Path) -> None:
    """Unpack one of our archives into `target`, refusing members that would land outside it."""
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "tar_filter"):
            tar.extractall(target, filter="tar")
            return
        members = tar.getmembers()
        for member in members:
            parts = Path(member.name).parts
            if member.name.startswith("/") or ".." in parts or member.issym() or member.isdev():
                raise BackupError(f"{archive} holds an unexpected entry {member.name!r}: the backup is damaged.")
        tar.extractall(target, members=members)


def _packages() -> str:
    """The installed Python packages, as `pip freeze` lists them (without running pip: it takes a second)."""
    names = {f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions() if d.metadata['Name']}
    return f"# Python {sys.version.split()[0]} ({sys.executable})\n" + "".join(
        name + "\n" for name in sorted(names, key=str.lower))


@dataclass
class Backup:
    """A complete backup directory and its manifest."""

    path: Path
    manifest: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    def summary(self) -> str:
        counts = ", ".join(f"{n} {k}" for k, n in self.manifest.get("counts", {}).items())
        return f"backup {self.path} ({self.manifest.get('engine')} database; {counts})"


def _write_manifest(directory: Path, created: datetime.datetime) -> dict:
    files = {}
    for path in sorted(directory.iterdir()):
        if path.name != MANIFEST:
            files[path.name] = {"sha1sum": storage.sha1_file(path), "size": path.stat().st_size}
    manifest = {"created": created.strftime("%Y-%m-%d %H:%M:%S"), "observatory": settings.CRDS_OBSERVATORY,
                "usecase": settings.CRDS_USECASE, "engine": engine(), "migrations": applied_migrations(),
                "counts": table_counts(), "files": files}
    temporary = directory / (MANIFEST + ".tmp")
    temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    temporary.rename(directory / MANIFEST)
    return manifest


def remove_stale_partials(root: Path) -> list[str]:
    """Remove the partial backups and `latest` copies of processes that no longer run; their names."""
    removed = []
    for path in sorted(root.glob(".*")) if root.is_dir() else []:
        owner = PARTIAL_RE.match(path.name)
        if owner and not process_alive(int(owner.group(1))) or not owner and path.name.endswith(".partial"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def make_backup(dry_run: bool = False) -> Backup:
    """Back up the server into a new dated directory and the latest-backup area."""
    created = datetime.datetime.now()
    root = backups_dir()
    stamp = created.strftime(STAMP_FORMAT)
    final = root / stamp
    if dry_run:
        return Backup(final, {"engine": engine(), "counts": table_counts(), "areas": sorted(areas())})
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(PRIVATE)
    notes = [note for note in [clear_stale_offline_flag()] if note]
    notes += [f"removed the partial backup {name} of a process that no longer runs"
              for name in remove_stale_partials(root)]
    if final.exists():
        raise BackupError(f"A backup named {stamp} already exists; try again in a second.")
    with offline("backup"):
        partial = Path(tempfile.mkdtemp(prefix=f".{stamp}.pid{os.getpid()}.", suffix=".partial", dir=root))
        try:
            dump_database(partial / DB_FILES[engine()])
            for name, directory in areas().items():
                _archive(directory, partial / f"{name}.tar")
            (partial / PACKAGES).write_text(_packages())
            for path in partial.iterdir():
                path.chmod(0o600)
            manifest = _write_manifest(partial, created)
            partial.chmod(PRIVATE)
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        _update_latest(final)
    return Backup(final, manifest, notes)


def _update_latest(source: Path) -> None:
    """Replace db_backups/latest with (hard links to) the files of `source`; an interruption keeps the old one."""
    root = source.parent
    latest = root / LATEST
    old = root / f".{LATEST}.old"
    staging = Path(tempfile.mkdtemp(prefix=f".{LATEST}.pid{os.getpid()}.", dir=root))
    try:
        for path in source.iterdir():
            try:
                os.link(path, staging / path.name)
            except OSError:
                shutil.copy2(path, staging / path.name)
        staging.chmod(PRIVATE)
        shutil.rmtree(old, ignore_errors=True)
        if latest.exists():
            latest.rename(old)
        staging.rename(latest)
    except BaseException:
        if not latest.exists() and old.exists():
            old.rename(latest)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def list_backups() -> list[Path]:
    root = backups_dir()
    return sorted(p for p in root.iterdir() if STAMP_RE.match(p.name) and p.is_dir()) if root.is_dir() else []


def find_backup(name: str | None) -> Path:
    """The latest backup, a dated backup of this server by name, or a backup directory by path."""
    if not name:
        path = backups_dir() / LATEST
        if not path.is_dir():
            raise BackupError(f"There is no latest backup in {backups_dir()}: run tools/backup_server first.")
        return path
    if STAMP_RE.match(name) or name == LATEST:
        path = backups_dir() / name
    else:
        path = Path(name).expanduser()
    if not path.is_dir():
        known = ", ".join(p.name for p in list_backups()[-5:]) or "none"
        raise BackupError(f"No backup {name!r}: give a backup name (recent: {known}) or a backup directory.")
    return path.absolute()


def check_backup(path: Path) -> Backup:
    """Read and verify a backup: complete, intact, for this observatory and database engine."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupError(f"{path} is not a complete backup (no readable {MANIFEST}).") from None
    if manifest.get("observatory") != settings.CRDS_OBSERVATORY:
        raise BackupError(f"{path} is a backup of a {manifest.get('observatory')} server: "
                          f"this server serves {settings.CRDS_OBSERVATORY}.")
    if manifest.get("engine") != engine():
        raise BackupError(f"{path} holds a {manifest.get('engine')} database: this server uses {engine()}.")
    needed = [DB_FILES[engine()], *(f"{name}.tar" for name in REQUIRED_AREAS)]
    for name in needed:
        if name not in files:
            raise BackupError(f"{path} lacks {name}: it is not a complete backup.")
    for name, expected in files.items():
        target = path / name
        if not target.is_file() or target.stat().st_size != expected.get("size"):
            raise BackupError(f"{path}/{name} is missing or truncated: the backup is damaged.")
        if storage.sha1_file(target) != expected.get("sha1sum"):
            raise BackupError(f"{path}/{name} does not match its checksum: the backup is damaged.")
    if engine() == "mariadb":
        with open(path / DB_FILES["mariadb"], "rb") as dump:
            dump.seek(max(0, files[DB_FILES["mariadb"]]["size"] - 200))
            if DUMP_COMPLETE not in dump.read():
                raise BackupError(f"{path}/{DB_FILES['mariadb']} is an incomplete database dump.")
    unknown = sorted(set(manifest.get("migrations", [])) - set(applied_migrations()))
    if unknown:
        raise BackupError(f"{path} was made by a newer server (unknown migrations {', '.join(unknown[:3])}): "
                          "update this server's code first.")
    return Backup(path, manifest)


def prune_backups(keep: int) -> list[Path]:
    """Remove all but the newest `keep` backups: each is a full copy and nothing else removes one.

    Only directories make_backup made are touched (a dated name holding a manifest); `latest`
    stays.  Partial backups of killed runs are make_backup's to remove (remove_stale_partials).
    """
    if keep < 1:
        raise BackupError(f"Keeping {keep} backups would remove the newest one: keep at least 1.")
    made = [path for path in list_backups() if not path.is_symlink() and (path / MANIFEST).is_file()]
    doomed = made[:-keep]
    for path in doomed:
        shutil.rmtree(path)
    return doomed
