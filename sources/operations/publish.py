"""The server's own cache: keep config/<obs>/server_config and context pickles current, report its context.

The original ran `crds sync --last 1 --save-pickles --push-context` every five minutes against
itself; here the server writes the same server_config that get_server_info() returns (built by
the JSON-RPC service code) and bad_files.txt into its file cache, pickles its newest and its
operational context with the crds library's own pickle code (`pickles/<obs>/NAME.pmap.pkl`, what
clients load with CRDS_USE_PICKLED_CONTEXTS), and records the operational context as the remote
context of a cache named `<obs>-<usecase>-server`.  Pickles of other contexts are removed, and a
restore or mirror removes them all (a context name may then stand for other rules).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from crds.core import config as crds_config
from crds.core import heavy_client, rmap
from django.conf import settings
from interactive import storage
from interactive.models import RemoteContext
from jsonapi import server_info, services

from operations import backup
from operations.mailreport import JobReport, send


def remote_name() -> str:
    return f"{settings.CRDS_OBSERVATORY}-{settings.CRDS_USECASE}-server"


def _write(path: Path, text: str) -> None:
    """Replace `path` atomically, so a client never reads half a server_config."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


class PublishError(Exception):
    """The server's own cache or the shared cache could not be brought up to date."""


def write_subdir_mode() -> None:
    """Tell the crds library the server keeps references flat (storage.cache_path); left to
    itself it guesses from the number of files and may look in references/<obs>/<instrument>/."""
    path = storage.config_dir() / "ref_cache_subdir_mode"
    if not path.is_file() or path.read_text().strip() != "flat":
        _write(path, "flat\n")


def pickles_dir() -> Path:
    return Path(crds_config.get_crds_picklepath(settings.CRDS_OBSERVATORY))


def newest_context() -> str:
    """The highest-named distributable pmap the cache holds (`crds sync --last 1`), or ''."""
    names = [name for name in server_info.distributable_names("mapping") if name.endswith(".pmap")]
    held = [name for name in names if storage.cache_path(name).is_file()]
    return held[-1] if held else ""


def save_pickles(contexts: list[str]) -> list[str]:
    """Pickle each of `contexts` unless its pickle already loads; remove every other pickle.

    The crds library's own load and save (what `crds sync --save-pickles` runs), with the
    context loaded completely first so that a damaged mapping is reported, not skipped.
    Returns the problems, one line per context that could not be pickled.
    """
    problems = []
    for context in contexts:
        try:
            heavy_client.load_pickled_mapping(context)
            continue
        except Exception:  # missing or unreadable: make it again
            pass
        try:
            loaded = rmap.asmapping(context, cached=False)
            loaded.force_load()
        except Exception as exc:  # a damaged mapping: the crds library's reason, in one line
            reason = str(exc).strip().splitlines()
            problems.append(f"cannot load {context} to pickle it: {reason[0] if reason else type(exc).__name__}")
            continue
        heavy_client.save_pickled_mapping(context, loaded)
        if not Path(crds_config.locate_pickle(context)).is_file():
            problems.append(f"cannot write the pickle of {context} in {pickles_dir()}")
    keep = {Path(crds_config.locate_pickle(context)).name for context in contexts}
    if pickles_dir().is_dir():
        for path in pickles_dir().glob("*.pkl"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
    return problems


def clear_pickles() -> None:
    """Remove every context pickle: after a restore or mirror a name may stand for other rules."""
    if pickles_dir().is_dir():
        for path in pickles_dir().glob("*.pkl"):
            path.unlink(missing_ok=True)


def publish(force: bool = False) -> str:
    """Refresh server_config, bad_files.txt and the context pickles, and push the context.

    Returns a line saying what was done; raises PublishError (after doing the rest) when a
    context cannot be pickled.
    """
    if not force and backup.is_offline():
        return f"server offline for maintenance ({backup.offline_flag()}): nothing done"
    directory = storage.config_dir()
    _write(directory / "server_config", server_info.server_config_text(None))
    _write(directory / "bad_files.txt", server_info.bad_files_text())
    write_subdir_mode()
    context = server_info.catalog_info()["operational_context"]
    remote, _ = RemoteContext.objects.get_or_create(
        name=remote_name(), defaults={"observatory": settings.CRDS_OBSERVATORY, "key": uuid.uuid4().hex})
    if context:
        services.push_remote_context("latest", remote.key, context)
    pickled = [name for name in dict.fromkeys([newest_context(), context])
               if name and storage.cache_path(name).is_file()]
    problems = save_pickles(pickled)
    if problems:
        raise PublishError("; ".join(problems))
    return (f"published server_config of {context or 'no context'} in {directory}; pickled "
            f"{', '.join(pickled) or 'no context'} in {pickles_dir()}; remote context {remote.name}")


def _group_cache_skipped(target: Path, force: bool) -> str:
    """Why the shared cache is left alone now ("" to go on); only the ops server keeps it."""
    if settings.CRDS_USECASE != "ops" and not force:
        return f"usecase {settings.CRDS_USECASE} is not ops: nothing done (the shared cache follows the ops server)"
    if not force and backup.is_offline():
        return f"server offline for maintenance ({backup.offline_flag()}): nothing done"
    if not target.is_absolute():
        raise PublishError(f"Give the shared cache as an absolute path, not {str(target)[:200]!r}.")
    return ""


def sync_group_cache(target: Path, url: str | None = None, contexts: list[str] | None = None,
                     references: bool = True, force: bool = False) -> str:
    """Publish this (ops) server's files into the shared read-only cache that clients use with
    CRDS_READONLY_CACHE (the original's sync_ops_to_grp and set_grp_cache_permissions)."""
    from operations import mirror

    skipped = _group_cache_skipped(target, force)
    if skipped:
        return skipped
    selection = ["--contexts", *contexts] if contexts else ["--all"]
    code, output = mirror.crds_sync(url or settings.CRDS_PUBLIC_URL, target, *selection,
                                    *(["--fetch-references"] if references else []))
    if code:
        errors = [line for line in output.splitlines() if "ERROR" in line][:3]
        raise PublishError(f"crds sync into {target} failed: {'; '.join(errors) or f'exit {code}'}")
    for path in target.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)
        elif path.parent.parent.name != "config":
            path.chmod(0o444)
    return f"synchronised {target} from {url or settings.CRDS_PUBLIC_URL} ({' '.join(selection)})"


VERIFY_LINES = 200  # error lines of a shared-cache verification that are mailed


def verify_group_cache(target: Path, url: str | None = None, force: bool = False, send_mail: bool = True) -> JobReport:
    """Check the shared read-only cache against this server without changing it (the original's weekly
    `crds_verify_cache shared`): `crds sync --check-files --readonly-cache` of every context, which
    compares mappings by sha1sum and references by existence and length.  Mailed when it finds errors."""
    report = JobReport("verify shared cache")
    report.summary = _group_cache_skipped(target, force)
    if report.summary:
        return report
    if not (target / "config" / settings.CRDS_OBSERVATORY).is_dir():
        raise PublishError(f"{target} is not a CRDS cache of {settings.CRDS_OBSERVATORY} "
                           f"(it has no config/{settings.CRDS_OBSERVATORY} directory).")
    from operations import mirror

    url = url or settings.CRDS_PUBLIC_URL
    code, output = mirror.crds_sync(url, target, "--all", "--fetch-references", "--check-files", "--readonly-cache",
                                    set_layout=False)
    errors = [line.split(" - ERROR - ", 1)[-1].strip() for line in output.splitlines() if " - ERROR - " in line]
    report.summary = f"{target}: every file of every context checked against {url}, no errors"
    if errors or code:
        report.failures.append(f"{len(errors)} error(s): {errors[0]}" if errors else f"crds sync exited {code}")
        report.add(f"crds sync --check-files of {target} against {url}",
                   "\n".join(errors[:VERIFY_LINES] + ([f"... and {len(errors) - VERIFY_LINES} more"]
                                                      if len(errors) > VERIFY_LINES else []))
                   or output.strip()[-5000:])
        if send_mail:
            send(report)
    return report
