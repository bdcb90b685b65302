"""The server's own cache: keep config/<obs>/server_config current and report its context.

The original ran `crds sync --last 1 --save-pickles --push-context` every five minutes against
itself; here the server writes the same server_config that get_server_info() returns (built by
the JSON-RPC service code) and bad_files.txt into its file cache, and records the operational
context it now holds as the remote context of a cache named `<obs>-<usecase>-server`.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from interactive import storage
from interactive.models import RemoteContext
from jsonapi import server_info, services

from operations import backup


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


def publish(force: bool = False) -> str:
    """Refresh server_config and bad_files.txt and push the context; a line saying what was done."""
    if backup.offline_flag().exists() and not force:
        return f"server offline for maintenance ({backup.offline_flag()}): nothing done"
    directory = storage.config_dir()
    _write(directory / "server_config", server_info.server_config_text(None))
    _write(directory / "bad_files.txt", server_info.bad_files_text())
    context = server_info.catalog_info()["operational_context"]
    remote, _ = RemoteContext.objects.get_or_create(
        name=remote_name(), defaults={"observatory": settings.CRDS_OBSERVATORY, "key": uuid.uuid4().hex})
    if context:
        services.push_remote_context("latest", remote.key, context)
    return f"published server_config of {context or 'no context'} in {directory}; remote context {remote.name}"


class PublishError(Exception):
    """The shared cache could not be brought up to date."""


def sync_group_cache(target: Path, url: str | None = None, contexts: list[str] | None = None,
                     references: bool = True, force: bool = False) -> str:
    """Publish this (ops) server's files into the shared read-only cache that clients use with
    CRDS_READONLY_CACHE (the original's sync_ops_to_grp and set_grp_cache_permissions)."""
    from operations import mirror

    if settings.CRDS_USECASE != "ops" and not force:
        return f"usecase {settings.CRDS_USECASE} is not ops: nothing done (the shared cache follows the ops server)"
    if backup.offline_flag().exists() and not force:
        return f"server offline for maintenance ({backup.offline_flag()}): nothing done"
    if not target.is_absolute():
        raise PublishError(f"Give the shared cache as an absolute path, not {str(target)[:200]!r}.")
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
