"""query_affected_datasets: mail the dataset ids newly affected, as the `crds` client reads them.

The original server ran `cron_query_affected_datasets -q -i` every 10 minutes: the client's own
`crds query_affected` against the server itself, remembering the last history item it published.
This does the same with the real client (a subprocess, its own cache under the reprocessing
directory), so the job also proves that the affected-datasets service answers clients.  Context
changes whose results are missing or not yet complete are skipped (`-i`), as there.

A server without a record starts at the end of its history: a first run records where it is and
mails nothing, rather than every id of every past context change.  `start` re-publishes from a
context (the client's `-x`).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from operations import backup

from reprocessing import compute

TIMEOUT_SECONDS = 1800


class QueryError(Exception):
    """The client could not read the server's affected datasets; nothing was published."""


@dataclass
class Published:
    """What one run found: the context changes it covered, the ids, and the client's errors."""

    line: str
    old_context: str = ""
    new_context: str = ""
    ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    log: str = ""


def client_dir() -> Path:
    """The client's private cache (its config and the last-processed record), never the server's cache."""
    return compute.reprocessing_dir() / "query_affected"


def last_processed_file() -> Path:
    return client_dir() / "ad_last_processed"


def last_processed(path: Path | None = None) -> tuple | None:
    """The client's record (history index, date, context, description), or None if there is none."""
    path = path or last_processed_file()
    if not path.is_file():
        return None
    try:
        record = ast.literal_eval(path.read_text())
        int(record[0])
        return tuple(record)
    except (ValueError, SyntaxError, TypeError, IndexError):
        raise QueryError(f"{path} does not hold a history record; remove it to start again "
                         "from the end of the history") from None


def _client(server_url: str, record: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CRDS_") and key != "DJANGO_SETTINGS_MODULE"}
    env.update(CRDS_SERVER_URL=server_url, CRDS_OBSERVATORY=settings.CRDS_OBSERVATORY,
               CRDS_PATH=str(client_dir()))
    client_dir().mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "crds.misc.query_affected", "-i", "-f", str(record), *args]
    try:
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise QueryError(f"crds query_affected against {server_url} took over {TIMEOUT_SECONDS} s") from None


def _error_lines(text: str) -> list[str]:
    return [line.split(" - ERROR - ", 1)[1].strip() for line in text.splitlines() if " - ERROR - " in line]


def _failure(server_url: str, done: subprocess.CompletedProcess) -> QueryError:
    errors = _error_lines(done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    reason = errors[-1] if errors else (lines[-1] if lines else f"exit status {done.returncode}")
    return QueryError(f"crds query_affected against {server_url} failed: {reason[:500]}")


def run(server_url: str = "", start: str = "") -> Published:
    """Publish the ids affected since the last run (or since context `start`); see the module doc."""
    server_url = (server_url or settings.CRDS_PUBLIC_URL).rstrip("/")
    if backup.is_offline():
        return Published(f"server offline ({backup.offline_flag()} exists): nothing done")
    if start and not (compute.CONTEXT_RE.match(start) and start.startswith(settings.CRDS_OBSERVATORY + "_")):
        raise QueryError(f"{start[:80]!r} is not a {settings.CRDS_OBSERVATORY} context name "
                         f"such as {settings.CRDS_OBSERVATORY}_0001.pmap")
    before = last_processed()
    if before is None and not start:
        done = _client(server_url, last_processed_file(), "--reset")
        after = last_processed()
        if done.returncode or after is None:
            raise _failure(server_url, done)
        return Published(f"first run: recorded history item {after[0]} ({after[2]}); "
                         "context changes after it will be published")
    # The client writes its record only when it published something; from `start` it writes a
    # scratch record, which then replaces the real one.
    record = last_processed_file()
    if start:
        record = record.with_name("ad_last_processed.from")
        record.unlink(missing_ok=True)
    done = _client(server_url, record, *(("-x", start) if start else ()))
    after = last_processed(record)
    if after is None or (after == before and not start):
        if done.returncode:
            raise _failure(server_url, done)
        return Published(f"no new affected datasets results after {start or before[2]}")
    if start:
        record.replace(last_processed_file())
    old = start or before[2]
    published = Published("", old_context=old, new_context=after[2], ids=done.stdout.split(),
                          errors=_error_lines(done.stderr), log=done.stderr)
    published.line = (f"{len(published.ids)} datasets affected from {old} to {after[2]}"
                      + (f"; {len(published.errors)} errors" if published.errors else ""))
    return published


def report(published: Published):
    """The mail of a run that published something (operations.mailreport), or None."""
    from operations.mailreport import JobReport

    if not published.new_context:
        return None
    job = JobReport("query_affected_datasets", summary=published.line)
    job.problems.extend(published.errors)
    job.add(f"dataset ids affected from {published.old_context} to {published.new_context}",
            "\n".join(published.ids) or "none")
    job.add("crds query_affected", published.log)
    return job
