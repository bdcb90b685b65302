"""Restore and mirroring: make this server a copy of a backup, of another server, or of itself.

`restore` loads a backup (this server's or another's) and removes the reference and rules
files the restored catalog does not know; `restore_server` is that applied to this server's
own backup, as the original implemented it ("mirroring a server to itself").  `mirror_server`
restores another server's backup and then fetches the files its catalog says are held but the
cache lacks with `crds sync` over HTTP.  `mirror_from_server` needs only the other server's
public interface: `crds sync` fetches its mappings and server_config (context history, file
metadata, bad files, pointers) and optionally references, and the catalog is imported from
that cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
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


@dataclass
class MirrorReport:
    source: str
    restored: backup.Backup | None = None
    fetched: int = 0
    problems: list[str] = field(default_factory=list)
    orphans: orphans.OrphanReport | None = None
    dry_run: bool = False
    workers: str = ""

    def lines(self) -> list[str]:
        lines = [f"source: {self.source}"]
        if self.restored is not None:
            lines.append(f"{'would restore' if self.dry_run else 'restored'} {self.restored.summary()}")
        if self.fetched:
            lines.append(f"fetched {self.fetched} files with crds sync")
        lines += [f"WARNING: {problem}" for problem in self.problems]
        if self.orphans is not None:
            lines += self.orphans.lines()
            lines.append("orphan check: " + self.orphans.summary())
        if self.workers:
            lines.append(self.workers)
        return lines


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


def _stage(archive: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore.", dir=target.parent))
    backup._extract(archive, staging)
    staging.chmod(target.stat().st_mode & 0o7777 if target.exists() else 0o755)
    return staging


def _swap(staging: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def restore(path: Path, dry_run: bool = False, delete_orphans: bool = True) -> MirrorReport:
    """Load the backup at `path`: database, catalogs, deliveries, mappings, cache config; then orphans.

    The backup is verified completely first; the file areas are unpacked beside their
    directories before the database is touched, and swapped in only after it loaded.  If
    loading fails, the database is put back from a copy taken just before.
    """
    checked = backup.check_backup(path)
    report = MirrorReport(source=str(path), restored=checked, dry_run=dry_run)
    if dry_run:
        report.orphans = orphans.check()
        return report
    staged: dict[Path, Path] = {}
    with backup.offline("restore"), tempfile.TemporaryDirectory(prefix="crds-restore-",
                                                                dir=backup.backups_dir()) as tmp:
        try:
            for name, directory in backup.areas().items():
                staged[directory] = _stage(path / f"{name}.tar", directory)
            before = Path(tmp) / backup.DB_FILES[backup.engine()]
            backup.dump_database(before)
            try:
                backup.load_database(path / backup.DB_FILES[backup.engine()])
            except backup.BackupError:
                backup.load_database(before)
                raise
        except BaseException:
            for staging in staged.values():
                shutil.rmtree(staging, ignore_errors=True)
            raise
        for directory, staging in staged.items():
            _swap(staging, directory)
        publish.clear_pickles()
        if _unapplied_migrations():  # a backup made before this code's latest migrations
            call_command("migrate", interactive=False, verbosity=0)
        catalog_cache.invalidate()
        report.orphans = orphans.check(delete=delete_orphans)
        report.workers = reload_workers()
    return report


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


def crds_sync(url: str, crds_path: Path, *args: str) -> tuple[int, str]:
    """Run `crds sync ARGS` against server `url` into cache `crds_path`: (exit code, output).

    The server's cache keeps references flat (references/<obs>/NAME, as storage.cache_path
    says); a new crds cache would otherwise put HST references in per-instrument directories.
    """
    mode = crds_path / "config" / settings.CRDS_OBSERVATORY / "ref_cache_subdir_mode"
    if not mode.exists():
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
            report.problems += _error_lines(output) or [f"crds sync exited {code}"]
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
    report = restore(path, dry_run=dry_run, delete_orphans=False)
    report.source = f"{obs} {usecase} at {url} (backup {path})"
    if dry_run:
        return report
    fetch_missing(url, report)
    report.orphans = orphans.check(delete=True)
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
