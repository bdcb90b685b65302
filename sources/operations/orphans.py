"""Consistency of the file cache and the catalog: stray files, missing files, damaged files.

A *stray* file is in the server's mappings or references directory without a catalog row; a
*missing* file has a catalog row saying the server holds it (`present`) but no file; a
*corrupt* file's sha1sum differs from its catalog row.  Rows known only from another server's
download_metadata (`present == False`) are not missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from interactive import storage
from interactive.models import FileRecord
from interactive.storage import sha1_file


@dataclass
class OrphanReport:
    stray: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    checked_sha1sum: bool = False
    deleted: list[Path] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.stray or self.missing or self.corrupt)

    def lines(self) -> list[str]:
        lines = [f"stray file (no catalog row): {path}" for path in self.stray]
        lines += [f"missing file (cataloged, not in the cache): {name}" for name in self.missing]
        lines += [f"corrupt file (sha1sum differs from the catalog): {name}" for name in self.corrupt]
        lines += [f"deleted: {path}" for path in self.deleted]
        return lines

    def summary(self) -> str:
        sha1 = "sha1sums checked" if self.checked_sha1sum else "sha1sums not checked"
        return (f"{len(self.stray)} stray, {len(self.missing)} missing, {len(self.corrupt)} corrupt files "
                f"({sha1}); {len(self.deleted)} deleted.")


def _cache_files(directories: Iterable[Path]) -> dict[str, Path]:
    files = {}
    for directory in directories:
        if directory.is_dir():
            for path in directory.iterdir():
                if path.is_file() and not path.name.startswith("."):
                    files[path.name] = path
    return files


def check(check_sha1sum: bool = False, delete: bool = False) -> OrphanReport:
    """Compare the cache with the catalog; with `delete`, remove the stray files."""
    report = OrphanReport(checked_sha1sum=check_sha1sum)
    files = _cache_files([storage.mappings_dir(), storage.references_dir()])
    rows = FileRecord.objects.values_list("name", "present", "sha1sum")
    cataloged = set()
    for name, present, sha1sum in rows.iterator(chunk_size=5000):
        cataloged.add(name)
        if not present:
            continue
        path = files.get(name)
        if path is None:
            report.missing.append(name)
        elif check_sha1sum and sha1sum not in ("", "none") and sha1_file(path) != sha1sum.lower():
            report.corrupt.append(name)
    report.stray = sorted(path for name, path in files.items() if name not in cataloged)
    report.missing.sort()
    report.corrupt.sort()
    if delete:
        for path in report.stray:
            path.unlink(missing_ok=True)
            report.deleted.append(path)
    return report
