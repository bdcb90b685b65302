"""Shared test support: the imported HST test cache and a TestCase base for catalog tests.

The top-level conftest.py imports the HST test cache once per test session
(see its `django_db_setup`), so every test database starts with the full
catalog.  Tests that need an empty catalog delete rows inside their own
transaction; transactional tests (TransactionTestCase, live_server) flush
the database afterwards and must call `import_test_cache()` themselves.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from django.test import TestCase

CHECKOUT = Path(__file__).resolve().parents[2]
ERROR_RE = re.compile(r'<div id="error_message"[^>]*>(.*?)</div>', re.S)


def shared_data() -> Path:
    """The team's read-only test data: ../shared/data next to the checkout, or $CRDS_SHARED_DATA."""
    return Path(os.environ.get("CRDS_SHARED_DATA") or CHECKOUT.parent / "shared" / "data")


def test_cache() -> Path:
    """The standard CRDS cache used as the test catalog (HST rules up to hst_0729.pmap)."""
    return shared_data() / "crds-cache-test"


def test_data() -> Path:
    """Sample mappings, references and datasets from the crds project's own tests."""
    return shared_data() / "crds-test-data"


# Not tests, though pytest would collect them by name wherever they are imported.
test_cache.__test__ = False
test_data.__test__ = False


def import_test_cache(force: bool = False):
    """Import the HST test cache into the current database and the server's file cache.

    Files are copied, not hard-linked: a test that changes a cache file must not change the
    team's shared data through a shared inode.
    """
    from interactive import importer

    return importer.import_cache(test_cache(), force=force, user="test", link=False)


def error_message(page) -> str:
    """The text of a page's error box as a person reads it ('' when it is empty or absent).

    `page` is a Django test response, a requests response or the page's HTML.
    """
    match = ERROR_RE.search(page if isinstance(page, str) else page.text)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else ""


class CatalogTestCase(TestCase):
    """A TestCase over the imported test catalog, with small look-up helpers."""

    OPERATIONAL = "hst_0729.pmap"

    def record(self, name: str):
        from interactive.models import FileRecord

        return FileRecord.objects.get(name=name)

    def cache_path(self, name: str) -> Path:
        from interactive import storage

        return storage.cache_path(name)


def encode_download_metadata(metadata: dict[str, dict]) -> dict[str, str]:
    """{name: {"sha1sum", "size"}} in the crds_encoded form a server_config holds."""
    import base64
    import gzip
    import json

    payload = base64.b64encode(gzip.compress(json.dumps(metadata).encode())).decode()
    return {"crds_encoded": "1.0", "crds_payload": payload}


def make_cache(root: Path, mappings: list[str], references: list[str] = (), observatory: str = "hst",
               **server_info) -> Path:
    """A small CRDS cache under `root` built from files of the test cache, for tests that change things.

    `server_info` overrides server_config keys; download_metadata may be given as a plain dict.
    """
    import shutil

    source = test_cache()
    for kind, names in (("mappings", mappings), ("references", references)):
        target = root / kind / observatory
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(source / kind / observatory / name, target / name)
    info = {"observatory": observatory, "operational_context": "", "edit_context": "", "versions_context": "",
            "context_history": [], "bad_files_list": [], "download_metadata": {}}
    info.update(server_info)
    if isinstance(info["download_metadata"], dict) and "crds_payload" not in info["download_metadata"]:
        info["download_metadata"] = encode_download_metadata(info["download_metadata"])
    config = root / "config" / observatory
    config.mkdir(parents=True, exist_ok=True)
    (config / "server_config").write_text(repr(info))
    return root


def use_temporary_file_cache(testcase) -> Path:
    """Point the server's file cache (and the crds library's CRDS_PATH) at a fresh temporary
    directory for the rest of `testcase`; return it.  For tests that add or delete cache files,
    which a database rollback would not undo."""
    import shutil
    import tempfile
    from unittest import mock

    from django.test import override_settings

    root = Path(tempfile.mkdtemp(prefix="crds-test-cache-"))
    testcase.addCleanup(shutil.rmtree, root, ignore_errors=True)
    override = override_settings(CRDS_FILE_CACHE=root)
    override.enable()
    testcase.addCleanup(override.disable)
    environ = mock.patch.dict(os.environ, {"CRDS_PATH": str(root)})
    environ.start()
    testcase.addCleanup(environ.stop)
    return root


def archive_failed(*names: str) -> Path:
    """Make cataloged `names` a delivery the archive refused: `archiving-failed`, its catalog renamed `_ERROR`
    in the delivery area (server-behaviour.md §6.3).  Returns that file, for the caller to remove."""
    from interactive import delivery
    from interactive.models import ARCHIVING_FAILED, FileRecord

    shipped = delivery.delivery_dirs()[0] / "opus_999001_i.cat"
    failed = shipped.with_name(shipped.name + "_ERROR")
    failed.parent.mkdir(parents=True, exist_ok=True)
    failed.touch()
    FileRecord.objects.filter(name__in=names).update(state=ARCHIVING_FAILED, catalog_link=str(shipped))
    return failed
