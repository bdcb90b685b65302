"""Where the server keeps files, and the one check every user-given name passes.

Three roots (see README): $CRDS (server area: conf, logs, run, backups,
secrets), $CRDS_SERVER_FILES (catalogs, deliveries, uploads, ingest) and
$CRDS_FILE_CACHE (a standard crds cache the crds library reads directly).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from django.conf import settings

MAPPING_EXTENSIONS = (".pmap", ".imap", ".rmap")
FILENAME_RE = re.compile(r"^[A-Za-z0-9._\-]{1,128}\Z")


class BadName(ValueError):
    """A name given by a user is not an acceptable CRDS file name."""


def check_filename(name: str) -> str:
    """Return `name` if it is a plain CRDS file name, else raise BadName.

    Every name that comes from a request goes through here before it touches
    the file system, so no path separator or `..` can reach a path.
    """
    if not isinstance(name, str) or not FILENAME_RE.match(name) or name in (".", ".."):
        raise BadName(f"Invalid file name {str(name)[:140]!r}: use letters, digits, '.', '_' and '-' only.")
    return name


def sha1_file(path: Path) -> str:
    """The SHA-1 of a file's bytes, read in 1 MiB blocks (multi-GB references never sit in memory)."""
    digest = hashlib.sha1()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha1_while_written(path: Path, written: threading.Event) -> str:
    """The SHA-1 of a file that another thread is writing from start to end, read as it grows.

    The new bytes are still in the page cache, so hashing them costs no disk read and ends
    with the write instead of starting after it.  `written` is set when the writer is done,
    whether it succeeded or not.  A writer that went back to change bytes already hashed
    would make the sum wrong, so a file whose final size differs from the bytes hashed, or
    that was replaced under its name, is hashed again from the start.
    """
    while not path.exists():
        if written.wait(0.005) and not path.exists():
            raise FileNotFoundError(f"{path.name} was not written")
    digest = hashlib.sha1()
    hashed = 0
    with open(path, "rb") as stream:
        while True:
            finished = written.is_set()  # read before the last pass, so that pass sees every byte
            block = stream.read(1 << 20)
            if block:
                digest.update(block)
                hashed += len(block)
            elif finished:
                break
            else:
                written.wait(0.005)
        opened = os.fstat(stream.fileno())
    current = path.stat()
    if (opened.st_ino, opened.st_size) != (current.st_ino, hashed):
        return sha1_file(path)
    return digest.hexdigest()


class Hashes:
    """SHA-1 sums computed by worker threads while the caller goes on with other work.

    hashlib releases the GIL while it hashes, so reading a multi-GB reference overlaps the
    certify and rmap steps of a submission instead of adding to them.  Used as a context
    manager: leaving it cancels what has not started and waits for what has.
    """

    def __init__(self):
        # Two threads: a file being written (`follow`) is hashed while uploads still are.
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sha1")
        self._pending: dict[str, Future] = {}
        self._written: list[threading.Event] = []

    def __enter__(self) -> Hashes:
        return self

    def __exit__(self, *exc) -> None:
        for written in self._written:
            written.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def start(self, key: str, path: Path) -> None:
        self._pending[key] = self._pool.submit(sha1_file, path)

    def follow(self, key: str, path: Path) -> threading.Event:
        """Hash `path` under `key` while it is written; the caller sets the event once it is."""
        written = threading.Event()
        self._written.append(written)
        self._pending[key] = self._pool.submit(sha1_while_written, path, written)
        return written

    def __contains__(self, key: str) -> bool:
        return key in self._pending

    def take(self, key: str) -> str:
        """The SHA-1 started under `key`, waiting for it if need be."""
        return self._pending.pop(key).result()

    def take_all(self) -> dict[str, str]:
        return {key: self.take(key) for key in list(self._pending)}


def is_mapping(name: str) -> bool:
    return name.endswith(MAPPING_EXTENSIONS)


def mappings_dir() -> Path:
    return settings.CRDS_FILE_CACHE / "mappings" / settings.CRDS_OBSERVATORY


def references_dir() -> Path:
    return settings.CRDS_FILE_CACHE / "references" / settings.CRDS_OBSERVATORY


def config_dir() -> Path:
    return settings.CRDS_FILE_CACHE / "config" / settings.CRDS_OBSERVATORY


def cache_path(name: str) -> Path:
    """The standard location of a cataloged file in the server's file cache."""
    check_filename(name)
    return (mappings_dir() if is_mapping(name) else references_dir()) / name


def server_dir(*parts: str) -> Path:
    """A directory of the server area: conf, logs, run, wsgi-scripts, db_backups ..."""
    return settings.CRDS_SERVER_DIR.joinpath(*parts)


def catalogs_dir() -> Path:
    return settings.CRDS_SERVER_FILES / "catalogs"


def deliveries_dir() -> Path:
    return settings.CRDS_SERVER_FILES / "deliveries"


def uploads_dir() -> Path:
    return settings.CRDS_SERVER_FILES / "uploads"


def discard(*paths: Path) -> None:
    """Delete files without waiting for the file system to free their blocks.

    Freeing a multi-GB upload takes a good part of a second; a confirm should not wait for
    it.  The files are moved aside at once (`uploads/discarded/`, the same file system as the
    ingest areas) and deleted by one background thread, which also deletes whatever an
    interrupted process left there.  Across file systems they are simply deleted.
    """
    trash = uploads_dir() / "discarded"
    moved = False
    for path in paths:
        try:
            trash.mkdir(parents=True, exist_ok=True)
            os.replace(path, trash / uuid.uuid4().hex)
            moved = True
        except FileNotFoundError:
            continue
        except OSError:
            path.unlink(missing_ok=True)
    if moved:
        threading.Thread(target=_empty, args=(trash,), name="discard").start()


def _empty(folder: Path) -> None:
    for entry in os.scandir(folder):
        Path(entry.path).unlink(missing_ok=True)


def ingest_dir(username: str) -> Path:
    """A user's staging area for submissions."""
    if not re.match(r"^[A-Za-z0-9_.@+\-]{1,150}\Z", username or ""):
        raise BadName(f"Invalid user name {str(username)[:160]!r}.")
    return settings.CRDS_SERVER_FILES / "ingest" / username


def all_dirs() -> list[Path]:
    """Every directory a server needs; ./install creates them."""
    root = settings.CRDS_ROOT
    return [
        server_dir("conf"),
        server_dir("logs"),
        server_dir("run"),
        server_dir("wsgi-scripts"),
        server_dir("db_backups"),
        server_dir("static"),
        root / "server_logs",
        root / "cron_logs",
        root / "monitor_reprocessing",
        catalogs_dir(),
        deliveries_dir(),
        uploads_dir(),
        settings.CRDS_SERVER_FILES / "ingest",
        settings.CRDS_SERVER_FILES / "ingest_ssb",
        mappings_dir(),
        references_dir(),
        config_dir(),
    ]


def make_dirs() -> None:
    for path in all_dirs():
        path.mkdir(parents=True, exist_ok=True)
    # The cache holds unconfirmed uploads too; only the server serves it (server-behaviour.md §13).
    settings.CRDS_FILE_CACHE.chmod(0o750)
