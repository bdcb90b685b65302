"""A user's ingest area: save whole and chunked uploads, list, delete (server-behaviour.md §13).

Everything is confined to `ingest/<user>/`: names pass `check_ingest_name`
before any path is built, partial uploads live under `uploads/` (the same file
system) and appear in the ingest area only when complete, by an atomic rename.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from interactive import storage

DIR_MODE = 0o770
FILE_MODE = 0o660
# With auto-rename on, any of these names is acceptable; the official CRDS
# name rules are applied by the submission when auto-rename is off.
INGEST_NAME_RE = re.compile(r"^[A-Za-z0-9._\- ]{1,128}\Z")
CONTENT_RANGE_RE = re.compile(r"^bytes ([0-9]{1,18})-([0-9]{1,18})/([0-9]{1,18})\Z")
TOKEN_SESSION_KEY = "upload_delete_token"


class UploadError(ValueError):
    """An upload or delete the user asked for cannot be done; the message says why."""


@dataclass(frozen=True)
class ContentRange:
    start: int
    end: int
    total: int


def max_upload_bytes() -> int:
    return settings.CRDS_MAX_UPLOAD_BYTES  # from the site configuration


def check_size(name: str, size: int) -> None:
    """Refuse a file larger than the site's upload limit."""
    if size > max_upload_bytes():
        raise UploadError(f"File {name[:128]!r} is larger than the upload limit of {max_upload_bytes()} bytes.")


def check_ingest_name(name: str) -> str:
    """Return `name` if it may name a file in an ingest area, else raise UploadError."""
    if (not isinstance(name, str) or not INGEST_NAME_RE.match(name) or name.strip(" .") == ""
            or name != name.strip()):
        raise UploadError(f"Invalid file name {str(name)[:140]!r}: use up to 128 letters, digits, "
                          "spaces, '.', '_' and '-'.")
    return name


def user_dir(user: str) -> Path:
    """The user's ingest directory, created group-writable (0770) if missing."""
    path = storage.ingest_dir(user)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, DIR_MODE)
    return path


def _partial_dir(user: str) -> Path:
    path = storage.uploads_dir() / "partial" / storage.ingest_dir(user).name
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    return path


def delete_token(session) -> str:
    """The unguessable per-session token that a GET delete must carry (defect §16.7)."""
    token = session.get(TOKEN_SESSION_KEY)
    if not token:
        token = session[TOKEN_SESSION_KEY] = secrets.token_urlsafe(24)
    return token


def check_delete_token(session, given: str | None) -> bool:
    token = session.get(TOKEN_SESSION_KEY)
    return bool(token and given and secrets.compare_digest(token, given))


def record(name: str, size: int, token: str) -> dict:
    """The jQuery-File-Upload record the browser and the `crds submit` client read."""
    return {"name": name, "size": size, "deleteUrl": f"/upload/delete/{quote(name)}?t={token}",
            "deleteType": "DELETE"}


def list_files(user: str, token: str) -> list[dict]:
    """Every regular file of the ingest area, including those copied in by shell."""
    folder = user_dir(user)
    entries = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=False) and INGEST_NAME_RE.match(entry.name):
            entries.append(record(entry.name, entry.stat().st_size, token))
    return entries


def _install(partial: Path, user: str, name: str) -> Path:
    """Move a finished upload into the ingest area, replacing a file of that name."""
    target = user_dir(user) / name
    os.chmod(partial, FILE_MODE)
    try:
        os.replace(partial, target)
    except OSError:  # another file system: copy then rename within the target directory
        staged = target.with_name(f".{uuid.uuid4().hex}.part")
        shutil.copyfile(partial, staged)
        os.replace(staged, target)
        partial.unlink()
    return target


def save_whole(user: str, name: str, chunks) -> int:
    """Save a whole uploaded file (an iterable of byte chunks) as `name`; return its size."""
    check_ingest_name(name)
    fd, tmp = tempfile.mkstemp(dir=_partial_dir(user), suffix=".part")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                check_size(name, size)
                out.write(chunk)
        _install(Path(tmp), user, name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return size


def save_upload(user: str, name: str, upload) -> int:
    """Save a whole file of a request (a Django UploadedFile) as `name`; return its size.

    Django spools a file larger than FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file in
    the uploads area (FILE_UPLOAD_TEMP_DIR); that file is moved into the ingest area
    rather than copied, so a multi-GB upload is written once.
    """
    check_ingest_name(name)
    check_size(name, upload.size)
    if not hasattr(upload, "temporary_file_path"):
        return save_whole(user, name, upload.chunks())
    upload.file.flush()
    _install(Path(upload.temporary_file_path()), user, name)  # Django's close() allows the move
    return upload.size


def parse_content_range(header: str) -> ContentRange:
    match = CONTENT_RANGE_RE.match(header.strip())
    if not match:
        raise UploadError(f"Invalid Content-Range {header[:80]!r}: expected 'bytes <start>-<end>/<total>'.")
    rng = ContentRange(*(int(g) for g in match.groups()))
    if not rng.start <= rng.end < rng.total:
        raise UploadError(f"Invalid Content-Range {header[:80]!r}: bytes outside the file.")
    if rng.total > max_upload_bytes():
        raise UploadError(f"The file is larger than the upload limit of {max_upload_bytes()} bytes.")
    return rng


def save_chunk(user: str, name: str, rng: ContentRange, data: bytes) -> int | None:
    """Write one chunk at its offset; when the last byte arrives, install the file.

    Returns the file size once complete, else None.  A chunk must fit its
    range and continue the bytes received so far (no holes); a chunk at 0
    restarts the upload.
    """
    check_ingest_name(name)
    if len(data) != rng.end - rng.start + 1:
        raise UploadError(f"Chunk of {name!r} holds {len(data)} bytes, but its Content-Range says "
                          f"{rng.end - rng.start + 1}.")
    partial = _partial_dir(user) / f"{name}.chunked"
    have = partial.stat().st_size if partial.exists() else 0
    if rng.start == 0:
        have = 0
    elif rng.start > have:
        raise UploadError(f"Chunk of {name!r} starts at byte {rng.start} but only {have} bytes arrived; "
                          "restart the upload.")
    with open(partial, "r+b" if have else "wb") as out:
        out.truncate(rng.start)
        out.seek(rng.start)
        out.write(data)
    if rng.end + 1 < rng.total:
        return None
    size = partial.stat().st_size
    if size != rng.total:
        partial.unlink()
        raise UploadError(f"Upload of {name!r} ended with {size} bytes, expected {rng.total}.")
    _install(partial, user, name)
    return size


def delete(user: str, name: str) -> None:
    """Delete `name` from the user's own ingest area."""
    check_ingest_name(name)
    path = user_dir(user) / name
    if not (path.is_file() or path.is_symlink()):
        raise FileNotFoundError(name)
    path.unlink()
