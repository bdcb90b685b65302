"""Restore and mirroring: make this server a copy of a backup, of another server, or of itself.

`restore` loads a backup (this server's or another's) and moves the reference and rules
files the restored catalog does not know into a dated directory of the file cache;
`restore_server` is that applied to this server's own backup, as the original implemented it
("mirroring a server to itself").  `mirror_server` restores another server's backup and then
fetches the files its catalog says are held but the cache lacks with `crds sync` over HTTP.
`mirror_from_server` needs only the other server's public interface: `crds sync` fetches its
mappings and server_config (context history, file metadata, bad files, pointers) and
optionally references, and the catalog is imported from that cache.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from crds_server import installer, siteconfig
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from interactive import cache as catalog_cache
from interactive import catalog, importer, storage
from interactive.models import FileRecord

from operations import backup, orphans, publish

SYNC_BATCH = 400
READ_ONLY = 0o444


class MirrorError(Exception):
    """The mirror or restore cannot be done; nothing was changed."""


class UndoFailed(MirrorError):
    """A restore failed and its changes could not be undone: the operator must act."""


@dataclass
class MirrorReport:
    source: str
    restored: backup.Backup | None = None
    fetched: int = 0
    problems: list[str] = field(default_factory=list)
    orphans: orphans.OrphanReport | None = None
    dry_run: bool = False
    workers: str = ""
    set_aside: list[Path] = field(default_factory=list)
    aside_dir: Path | None = None
    would_set_aside: list[Path] | None = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"source: {self.source}"]
        if self.restored is not None:
            lines.append(f"{'would restore' if self.dry_run else 'restored'} {self.restored.summary()}")
        if self.fetched:
            lines.append(f"fetched {self.fetched} files with crds sync")
        lines += [f"WARNING: {problem}" for problem in self.problems]
        if self.dry_run and self.restored is not None:
            lines += self._would_set_aside_lines()
        if self.set_aside:
            lines += [f"set aside: {path}" for path in self.set_aside]
            lines.append(f"{len(self.set_aside)} files the restored catalog does not know were moved into "
                         f"{self.aside_dir}; nothing was deleted")
        if self.orphans is not None:
            lines += self.orphans.lines()
            lines.append("orphan check: " + self.orphans.summary())
        if self.workers:
            lines.append(self.workers)
        return lines

    def _would_set_aside_lines(self) -> list[str]:
        if self.would_set_aside is None:
            return ["the restore would move the cache files the restored catalog does not know into "
                    f"{settings.CRDS_FILE_CACHE / SET_ASIDE}/<date> (a MariaDB dump cannot be read before loading)"]
        return [f"would set aside: {path}" for path in self.would_set_aside] + [
            f"the restore would move {len(self.would_set_aside)} cache files the backup's catalog does not know "
            f"into {settings.CRDS_FILE_CACHE / SET_ASIDE}/<date>; nothing would be deleted"]


def reload_workers() -> str:
    """Make the running server drop the rules its workers loaded before the catalog was replaced.

    Workers keep parsed mappings by name, and a replaced catalog can give an old name new
    rules.  mod_wsgi restarts its daemon processes when their WSGI script changes, and re-runs
    it in Apache's JSON-RPC workers, which then forget their rules (crds.wsgi); Django's
    development server has no such hook and must be restarted by the operator.
    """
    script = installer.wsgi_script(settings.CRDS_SERVER_DIR)
    if script.exists():
        try:
            script.touch()
            return "server workers: the WSGI daemons and JSON-RPC workers reload on their next request"
        except OSError:
            pass
    return "server workers: restart the server (./stop; ./run) so that it forgets the rules it had loaded"


def refuse_ops(force: bool) -> None:
    if settings.CRDS_USECASE == "ops" and not force:
        raise MirrorError("This is an ops server: mirroring would replace its catalog. Use --force if you mean it.")


RESTORE_PREFIX = ".restore-"
SET_ASIDE = "removed_by_restore"


class Moves:
    """The renames a restore made, so that a failure can put every file back in reverse order."""

    def __init__(self) -> None:
        self.done: list[tuple[Path, Path]] = []
        self.created: list[Path] = []

    def move(self, source: Path, target: Path) -> None:
        self.created += reversed([d for d in target.parents if not d.exists()])
        target.parent.mkdir(parents=True, exist_ok=True)
        _rename(source, target)
        self.done.append((source, target))

    def undo(self) -> None:
        while self.done:
            source, target = self.done.pop()
            _rename(target, source)
        while self.created:
            self.created.pop().rmdir()


def _rename(source: Path, target: Path) -> None:
    """Rename, or copy then remove a file across filesystems; never a directory (it may be a mount point)."""
    try:
        source.rename(target)
    except OSError as exc:
        if exc.errno != errno.EXDEV or source.is_dir():
            raise
        shutil.copy2(source, target)
        source.unlink()


def _contents(directory: Path) -> list[Path]:
    """The entries of an area, without a restore's own staging directories."""
    return sorted(p for p in directory.iterdir() if not p.name.startswith(RESTORE_PREFIX))


def _stage(archive: Path, directory: Path) -> Path:
    """Unpack `archive` into a hidden directory inside `directory`: its entries then move in by rename.

    Staging inside the area (not beside it) keeps the renames on one filesystem when the area is
    a mount point, as deliveries/ is in production (§13).
    """
    directory.mkdir(parents=True, exist_ok=True)
    staging = _hidden_dir("new", directory)
    try:
        backup._extract(archive, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _hidden_dir(kind: str, directory: Path) -> Path:
    """A restore's own directory inside an area, named by its process so that a killed one can be removed."""
    return Path(tempfile.mkdtemp(prefix=f"{RESTORE_PREFIX}{kind}-pid{os.getpid()}.", dir=directory))


def _replace_contents(directory: Path, staging: Path, old: Path, moves: Moves) -> None:
    """Move the area's entries into the hidden `old` directory and the staged ones in."""
    for entry in _contents(directory):
        moves.move(entry, old / entry.name)
    for entry in sorted(staging.iterdir()):
        moves.move(entry, directory / entry.name)


def set_aside_dir() -> Path:
    """A new dated directory of the file cache for the files a restore or mirror removes from the cache."""
    return settings.CRDS_FILE_CACHE / SET_ASIDE / datetime.datetime.now().strftime(backup.STAMP_FORMAT)


def _set_aside(paths: list[Path], aside: Path, moves: Moves, report: MirrorReport) -> None:
    for path in paths:
        moves.move(path, aside / ("mappings" if path.name.endswith("map") else "references") / path.name)
        report.set_aside.append(path)
    if paths:
        aside.chmod(backup.PRIVATE)
        report.aside_dir = aside


def remove_stale_staging() -> None:
    """Remove the staging directories of a restore whose process no longer runs."""
    for directory in backup.areas().values():
        for path in directory.glob(f"{RESTORE_PREFIX}*") if directory.is_dir() else []:
            owner = re.search(r"-pid(\d+)\.", path.name)
            if owner and not backup.process_alive(int(owner.group(1))):
                shutil.rmtree(path, ignore_errors=True)


def backup_catalog(path: Path) -> set[str] | None:
    """The file names of the catalog in backup `path`; None when it cannot be read without loading it."""
    if backup.engine() != "sqlite":
        return None
    database = sqlite3.connect(f"file:{path / backup.DB_FILES['sqlite']}?mode=ro", uri=True)
    try:
        return {name for (name,) in database.execute(f'SELECT name FROM "{FileRecord._meta.db_table}"')}
    except sqlite3.Error as exc:
        raise MirrorError(f"Cannot read the catalog of {path}: {exc}") from None
    finally:
        database.close()


def would_set_aside(path: Path) -> list[Path] | None:
    """The cache files a restore of backup `path` would remove: mappings it lacks, files its catalog lacks."""
    names = backup_catalog(path)
    if names is None:
        return None
    with tarfile.open(path / "mappings.tar") as tar:
        mappings = set(tar.getnames())
    removed = [p for p in orphans._cache_files([storage.mappings_dir()]).values()
               if p.name not in mappings or p.name not in names]
    removed += [p for p in orphans._cache_files([storage.references_dir()]).values() if p.name not in names]
    return sorted(removed)


def restore(path: Path, dry_run: bool = False, delete_orphans: bool = True) -> MirrorReport:
    """Load the backup at `path`: database, catalogs, deliveries, mappings, cache config; then orphans.

    The backup is verified completely first and its file areas unpacked inside their
    directories.  Then the database is loaded and the areas' contents replaced, every move
    recorded: if anything fails (or SIGTERM arrives), the moves are undone and the database is
    put back from a copy taken just before, so the server is exactly as it was.  The
    directories themselves stay (their owner, group and ACLs matter to the archive poller).
    Cache files the restored catalog does not know are moved into a dated directory, not deleted.
    """
    checked = backup.check_backup(path)
    report = MirrorReport(source=str(path), restored=checked, dry_run=dry_run)
    if dry_run:
        report.would_set_aside = would_set_aside(path)
        return report
    notes = [note for note in [backup.clear_stale_offline_flag()] if note]
    with backup.offline("restore"), tempfile.TemporaryDirectory(prefix="crds-restore-",
                                                                dir=backup.backups_dir()) as tmp:
        remove_stale_staging()
        report.problems += _missing_areas(path)
        staged: dict[Path, Path] = {}
        olds: list[Path] = []
        moves = Moves()
        try:
            for name, directory in backup.areas().items():
                if (path / f"{name}.tar").is_file():
                    staged[directory] = _stage(path / f"{name}.tar", directory)
            before = Path(tmp) / backup.DB_FILES[backup.engine()]
            backup.dump_database(before)
            try:
                backup.load_database(path / backup.DB_FILES[backup.engine()])
                if _unapplied_migrations():  # a backup made before this code's latest migrations
                    call_command("migrate", interactive=False, verbosity=0)
                for directory, staging in staged.items():
                    olds.append(_hidden_dir("old", directory))
                    _replace_contents(directory, staging, olds[-1], moves)
                aside = set_aside_dir()
                mappings_old = olds[list(staged).index(storage.mappings_dir())]
                _set_aside([p for p in _contents(mappings_old) if not (storage.mappings_dir() / p.name).exists()],
                           aside, moves, report)
                if delete_orphans:
                    _set_aside(orphans.check().stray, aside, moves, report)
            except BaseException as exc:
                _undo(moves, before, tmp, exc)
                raise
        finally:
            for directory in [*staged.values(), *olds]:
                shutil.rmtree(directory, ignore_errors=True)
        publish.clear_pickles()
        catalog_cache.invalidate()
        report.orphans = orphans.check()
        report.workers = reload_workers()
    report.problems = notes + report.problems
    return report


def _missing_areas(path: Path) -> list[str]:
    """Delivery directories configured here that the backup has no archive of: they are left as they are."""
    return [f"{path} has no {name}.tar: {directory} was left as it is"
            for name, directory in backup.areas().items() if not (path / f"{name}.tar").is_file()]


def _undo(moves: Moves, before: Path, tmp: str, exc: BaseException) -> None:
    """Put the files and the database back as they were before a restore that failed with `exc`."""
    try:
        moves.undo()
        if before.exists():
            backup.load_database(before)
    except BaseException as undo_exc:
        kept = backup.backups_dir() / f"before-restore-{datetime.datetime.now():%Y-%m-%d-%H%M%S}"
        shutil.copytree(tmp, kept)
        raise UndoFailed(f"The restore failed ({exc}) and could not be undone ({undo_exc}): the database as it "
                          f"was is in {kept}; restore it by hand.") from None


def _unapplied_migrations() -> list:
    executor = MigrationExecutor(connection)
    return executor.migration_plan(executor.loader.graph.leaf_nodes())


def restore_server(name: str | None = None, dry_run: bool = False) -> MirrorReport:
    """Restore this server from its latest (or a named) backup: a mirror of the server to itself."""
    return restore(backup.find_backup(name), dry_run=dry_run)


def source_backup(obs: str, usecase: str) -> Path:
    """The latest backup of server OBS/USECASE of this checkout's configuration."""
    try:
        site = siteconfig.render(obs, usecase)
    except siteconfig.ConfigError as exc:
        raise MirrorError(str(exc)) from None
    path = Path(site["CRDS"]) / "server" / "db_backups" / backup.LATEST
    if not path.is_dir():
        raise MirrorError(f"Server {obs} {usecase} has no latest backup ({path}): run its tools/backup_server, "
                          "or name a backup directory with --backup.")
    return path


def client_env(url: str, crds_path: Path) -> dict[str, str]:
    """Environment of a `crds` client process syncing from `url` into `crds_path`."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CRDS_") and key != "DJANGO_SETTINGS_MODULE"}
    env.update(CRDS_SERVER_URL=url, CRDS_PATH=str(crds_path), CRDS_OBSERVATORY=settings.CRDS_OBSERVATORY,
               CRDS_MODE="remote")
    return env


def crds_sync(url: str, crds_path: Path, *args: str, set_layout: bool = True) -> tuple[int, str]:
    """Run `crds sync ARGS` against server `url` into cache `crds_path`: (exit code, output).

    The server's cache keeps references flat (references/<obs>/NAME, as storage.cache_path
    says); a new crds cache would otherwise put HST references in per-instrument directories.
    `set_layout=False` leaves a cache that is only checked as it is.
    """
    mode = crds_path / "config" / settings.CRDS_OBSERVATORY / "ref_cache_subdir_mode"
    if set_layout and not mode.exists():
        mode.parent.mkdir(parents=True, exist_ok=True)
        mode.write_text("flat\n")
    result = subprocess.run([sys.executable, "-m", "crds.sync", *args], env=client_env(url, crds_path),
                            capture_output=True, text=True, timeout=24 * 3600)
    return result.returncode, result.stdout + result.stderr


def _error_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if "ERROR" in line][:20]


def fetch_missing(url: str, report: MirrorReport) -> None:
    """Fetch with `crds sync --files` what the catalog says the server holds but the cache lacks."""
    missing = orphans.check().missing
    for start in range(0, len(missing), SYNC_BATCH):
        names = missing[start:start + SYNC_BATCH]
        code, output = crds_sync(url, settings.CRDS_FILE_CACHE, "--files", *names)
        if code:
            reason = _error_lines(output) or output.strip().splitlines()[-3:]
            report.problems.append(f"crds sync from {url} exited {code}: " + (" | ".join(reason) or "no output"))
        for name in names:
            path = storage.cache_path(name)
            if path.exists():
                path.chmod(READ_ONLY)
                report.fetched += 1


def _check_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise MirrorError(f"Invalid server URL {url[:200]!r}: give http://HOST:PORT[/PREFIX].")
    return url.rstrip("/")


def mirror_server(obs: str, usecase: str, url: str, backup_path: str | None = None, force: bool = False,
                  dry_run: bool = False) -> MirrorReport:
    """Make this server a copy of server OBS/USECASE at `url`: its backup, then its files over HTTP."""
    refuse_ops(force)
    url = _check_url(url)
    if obs != settings.CRDS_OBSERVATORY:
        raise MirrorError(f"This server serves {settings.CRDS_OBSERVATORY}: it cannot mirror a {obs} server.")
    path = backup.find_backup(backup_path) if backup_path else source_backup(obs, usecase)
    info = get_server_info(url)
    if str(info.get("observatory", "")).lower() != obs:
        raise MirrorError(f"{url} serves {info.get('observatory')}, not {obs}. Nothing was changed.")
    report = restore(path, dry_run=dry_run, delete_orphans=False)
    report.source = f"{obs} {usecase} at {url} (backup {path})"
    if dry_run:
        return report
    fetch_missing(url, report)
    _set_aside(orphans.check().stray, report.aside_dir or set_aside_dir(), Moves(), report)
    report.orphans = orphans.check()
    return report


def get_server_info(url: str) -> dict:
    """The source's get_server_info() over JSON-RPC, as every crds client starts."""
    request = urllib.request.Request(url + "/json/", headers={"Content-Type": "application/json"}, data=json.dumps(
        {"jsonrpc": "1.0", "method": "get_server_info", "params": [], "id": 1}).encode())
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise MirrorError(f"Cannot reach the CRDS server at {url}: {exc}. Nothing was changed.") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("result"), dict):
        error = answer.get("error") if isinstance(answer, dict) else None
        raise MirrorError(f"{url} did not answer get_server_info ({error or 'no result'}). Nothing was changed.")
    return answer["result"]


def mirror_from_server(url: str, references: str = "none", contexts: list[str] | None = None, force: bool = False,
                       dry_run: bool = False) -> MirrorReport:
    """Import another server's rules through its public interface (JSON-RPC and downloads).

    The mappings of `contexts` (default: all) are downloaded with crds sync; the context history,
    pointers, bad files and the metadata of every other file come from its server info.
    `references` is "none", "operational" (the references of its operational context) or "all".
    """
    refuse_ops(force)
    url = _check_url(url)
    if references not in ("none", "operational", "all"):
        raise MirrorError(f"Invalid --references {references!r}: use none, operational or all.")
    for name in contexts or []:
        if not re.match(r"^[A-Za-z0-9_.\-]+\.pmap\Z", name):
            raise MirrorError(f"Invalid context {name[:140]!r}: give .pmap names.")
    report = MirrorReport(source=url, dry_run=dry_run)
    info = get_server_info(url)
    if str(info.get("observatory", "")).lower() != settings.CRDS_OBSERVATORY:
        raise MirrorError(f"{url} serves {info.get('observatory')}: this server serves "
                          f"{settings.CRDS_OBSERVATORY}. Nothing was changed.")
    with tempfile.TemporaryDirectory(prefix="crds-mirror-", dir=settings.CRDS_ROOT) as tmp:
        cache = Path(tmp) / "cache"
        selection = ["--contexts", *contexts] if contexts else ["--all"]
        code, output = crds_sync(url, cache, *selection)
        if code:
            detail = "; ".join(_error_lines(output)[:3]) or "see crds sync's output"
            raise MirrorError(f"Cannot copy the rules of {url}: crds sync failed ({detail}). Nothing was changed.")
        config = cache / "config" / settings.CRDS_OBSERVATORY / "server_config"
        config.write_text(repr(info))
        if references != "none":
            which = ["--all"] if references == "all" else ["--contexts", str(info.get("operational_context"))]
            code, output = crds_sync(url, cache, *which, "--fetch-references")
            if code:
                report.problems += _error_lines(output) or [f"crds sync --fetch-references exited {code}"]
        if dry_run:
            mappings = len(list((cache / "mappings" / settings.CRDS_OBSERVATORY).glob("*map")))
            report.problems.append(f"dry run: would replace the catalog of {FileRecord.objects.count()} files "
                                   f"with {url}'s rules ({mappings} mappings); nothing was changed")
            return report
        with backup.offline("mirror"):
            try:
                result = importer.import_cache(cache, force=True, user="mirror_server", link=False)
            except importer.ImportFailed as exc:
                raise MirrorError(str(exc)) from None
            report.problems += result.problems
            report.fetched = result.mappings + result.references
            publish.clear_pickles()
            catalog.audit("mirror", result.pointers.get("latest", "") or "server", "mirror_server",
                          why=f"Catalog mirrored from {url}.", details=result.summary())
            catalog_cache.invalidate()
            report.orphans = orphans.check(delete=True)
            report.workers = reload_workers()
    return report
