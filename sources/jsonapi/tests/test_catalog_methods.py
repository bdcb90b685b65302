"""Server info and the catalog methods (crds-protocol.md §4.1, §4.3)."""

import ast
import base64
import gzip
import json
import sqlite3
import zlib

import pytest
from crds.client import proxy
from crds.core import rmap
from crds_server import testing
from django.test import Client
from interactive import cache, catalog, contexts
from interactive.models import FileRecord

REQUIRED_INFO_KEYS = ("observatory", "latest_context", "operational_context", "edit_context", "versions_context",
                      "mappings", "bad_files_list", "mapping_url", "reference_url", "config_url",
                      "download_metadata", "force_remote_mode", "last_synced", "crds_version",
                      "max_headers_per_rpc", "context_history")
SYNC_FIELDS = ["size", "rejected", "blacklisted", "state", "sha1sum"]


def original_metadata() -> dict:
    """download_metadata of the server the test cache came from."""
    info = ast.literal_eval((testing.test_cache() / "config" / "hst" / "server_config").read_text())
    return json.loads(gzip.decompress(base64.b64decode(info["download_metadata"]["crds_payload"])))


def test_server_info_has_every_key_the_client_reads(rpc):
    info = rpc("get_server_info")
    assert set(REQUIRED_INFO_KEYS) <= set(info)
    assert info["observatory"] == "hst"
    assert info["latest_context"] == info["operational_context"] == contexts.get_pointer("latest")
    assert info["mappings"] == sorted(catalog.distributable().filter(type="mapping").values_list("name", flat=True))
    assert info["bad_files_list"] == sorted(FileRecord.objects.filter(rejected=True).values_list("name", flat=True))
    assert info["crds_version"]["str"]
    assert info["mapping_url"] == {"hst": "http://testserver/unchecked_get/mappings/hst/"}
    assert info["context_history"][0][1] == info["latest_context"]
    ast.literal_eval(repr(info))  # the client stores it as a Python literal


def test_download_metadata_covers_every_distributable_file(rpc):
    metadata = proxy.crds_decode(rpc("get_server_info")["download_metadata"])
    records = dict(catalog.distributable().values_list("name", "sha1sum"))
    assert set(metadata) == set(records)
    original = original_metadata()
    assert len(metadata) >= 43_000
    for name in ("m4r1753rj_bia.fits", "hst_0729.pmap", "v8q14451j_idc.fits"):
        assert metadata[name] == {"size": original[name]["size"], "sha1sum": original[name]["sha1sum"]}
    assert all(isinstance(v["size"], str) for v in metadata.values())


def test_download_urls_follow_the_request(db):
    cache.invalidate()
    body = json.dumps({"method": "get_server_info", "params": [], "id": 1})
    response = Client().generic("POST", "/json/", body, content_type="application/x-www-form-urlencoded",
                                HTTP_HOST="localhost:8443", secure=True)
    info = json.loads(response.content)["result"]
    assert info["reference_url"] == {"hst": "https://localhost:8443/unchecked_get/references/hst/"}
    assert info["config_url"] == {"hst": "https://localhost:8443/unchecked_get/config/hst/"}


def test_server_info_is_rebuilt_after_catalog_and_context_changes(rpc):
    first = rpc("get_server_info")
    assert "hst_0728.pmap" not in first["bad_files_list"]
    record = FileRecord.objects.get(name="hst_0728.pmap")
    record.rejected = True
    record.save()
    contexts.set_pointer("latest", "hst_0727.pmap", "test")
    second = rpc("get_server_info")
    assert "hst_0728.pmap" in second["bad_files_list"]
    assert second["latest_context"] == second["operational_context"] == "hst_0727.pmap"
    assert second["context_history"][0][1] == "hst_0727.pmap"
    assert second["last_synced"] != first["last_synced"]


def test_pending_uploads_never_leak(rpc):
    FileRecord.objects.create(name="hst_acs_biasfile_9999.rmap", type="mapping", observatory="hst",
                              state="uploaded", size=10, sha1sum="abc")
    FileRecord.objects.create(name="zzzz9999z_bia.fits", type="reference", observatory="hst",
                              state="uploaded", size=10, sha1sum="abc")
    info = rpc("get_server_info")
    assert "hst_acs_biasfile_9999.rmap" not in info["mappings"]
    assert "zzzz9999z_bia.fits" not in proxy.crds_decode(info["download_metadata"])
    found = rpc("get_file_info_map", "hst", ["hst_acs_biasfile_9999.rmap", "zzzz9999z_bia.fits"], None)
    assert found == {"hst_acs_biasfile_9999.rmap": "NOT FOUND", "zzzz9999z_bia.fits": "NOT FOUND"}
    everything = rpc("get_file_info_map", "hst", None, ["size"])
    assert "zzzz9999z_bia.fits" not in everything and "hst_0729.pmap" in everything
    assert "hst_acs_biasfile_9999.rmap" not in rpc("list_mappings", "hst", "hst_acs_biasfile_*")
    assert "is not known to CRDS" in rpc.error("get_file_info", "hst", "zzzz9999z_bia.fits")


def test_file_info_map_answers_every_one_of_43800_names(rpc):
    names = sorted(original_metadata()) + ["unknown_file.fits", "../../etc/passwd", "hst_9999.pmap"]
    infos = rpc("get_file_info_map", "hst", names, SYNC_FIELDS)
    assert set(infos) == set(names)
    assert infos["unknown_file.fits"] == infos["../../etc/passwd"] == infos["hst_9999.pmap"] == "NOT FOUND"
    record = FileRecord.objects.get(name="m4r1753rj_bia.fits")
    assert infos["m4r1753rj_bia.fits"] == {"size": str(record.size), "rejected": "false", "blacklisted": "false",
                                           "state": record.state, "sha1sum": record.sha1sum}
    found = [info for info in infos.values() if info != "NOT FOUND"]
    assert len(found) == FileRecord.objects.filter(name__in=names).count()
    assert all(set(info) == set(SYNC_FIELDS) and all(isinstance(v, str) for v in info.values()) for info in found)
    bad = FileRecord.objects.filter(rejected=True).first()
    assert rpc("get_file_info_map", "hst", [bad.name], ["rejected"])[bad.name] == {"rejected": "true"}


def test_file_info_map_all_fields_and_bad_fields(rpc):
    info = rpc("get_file_info_map", "hst", ["hst_0729.pmap"], None)["hst_0729.pmap"]
    assert not {"deliverer_email", "catalog_link", "present", "uploaded_sha1sum"} & set(info)
    assert info["name"] == "hst_0729.pmap" and info["type"] == "mapping"
    assert len(info["delivery_date"]) == len("2019-09-09 16:09:51")
    assert "Unknown catalog field 'deliverer_email'" in rpc.error(
        "get_file_info_map", "hst", ["hst_0729.pmap"], ["deliverer_email"])
    assert "File names must be strings" in rpc.error("get_file_info_map", "hst", [1, 2], None)


def test_file_info_map_of_an_empty_catalog(rpc):
    FileRecord.objects.all().delete()
    assert rpc("get_file_info_map", "hst", None, None) == {}
    assert rpc("get_file_info_map", "hst", ["x.fits"], None) == {"x.fits": "NOT FOUND"}


def test_get_file_info(rpc):
    info = rpc("get_file_info", "hst_0729.pmap", "m4r1753rj_bia.fits")
    assert info == catalog.file_info(FileRecord.objects.get(name="m4r1753rj_bia.fits"))
    assert rpc("get_file_info", "hst", "hst_0729.pmap")["name"] == "hst_0729.pmap"
    assert "is not known to CRDS" in rpc.error("get_file_info", "hst", "nothere_bia.fits")
    assert "Invalid file name" in rpc.error("get_file_info", "hst", "../secret")
    assert "Invalid file name" in rpc.error("get_file_info", "hst", "hst_0729.pmap\n")
    assert "Mismatch" in rpc.error("get_file_info", "jwst", "hst_0729.pmap")
    failed = testing.archive_failed("m4r1753rj_bia.fits")
    try:
        cache.invalidate()
        assert "is not yet available" in rpc.error("get_file_info", "hst", "m4r1753rj_bia.fits")
    finally:
        failed.unlink()


def test_list_mappings_and_references(rpc):
    pmaps = rpc("list_mappings", "hst", "hst_07*.pmap")
    assert pmaps == sorted(name for name in rpc("get_server_info")["mappings"] if name.startswith("hst_07")
                           and name.endswith(".pmap"))
    assert len(pmaps) == 30
    assert rpc("list_mappings", None, None) == rpc("get_server_info")["mappings"]
    refs = rpc("list_references", "hst", "*_bia.fits")
    assert "m4r1753rj_bia.fits" in refs and all(name.endswith("_bia.fits") for name in refs)
    assert len(rpc("list_references", "hst", "*")) == catalog.distributable().filter(type="reference").count()
    assert "Invalid file pattern" in rpc.error("list_mappings", "hst", "../*")


def test_mapping_and_reference_closures(rpc):
    pmap = rmap.get_cached_mapping("hst_0729.pmap")
    assert rpc("get_mapping_names", "hst_0729.pmap") == sorted(pmap.mapping_names())
    assert rpc("get_mapping_names", "hst-edit") == sorted(pmap.mapping_names())
    both = rpc("get_mapping_names", ["hst_0729.pmap", "hst_0700.pmap"])
    assert both == sorted(set(pmap.mapping_names()) | set(rmap.get_cached_mapping("hst_0700.pmap").mapping_names()))
    assert "Cannot read the rules of 'hst_0001.pmap'" in rpc.error("get_mapping_names", "hst_0001.pmap")
    assert rpc("get_mapping_names", "hst_acs_biasfile_0345.rmap") == ["hst_acs_biasfile_0345.rmap"]
    refs = rpc("get_reference_names", "hst_0729.pmap")
    assert refs == sorted(set(pmap.reference_names()))
    assert "N/A" not in refs and "OMIT" not in refs
    assert "is not known to CRDS" in rpc.error("get_mapping_names", "hst_9999.pmap")
    assert "Contexts must be strings" in rpc.error("get_mapping_names", [1])


def test_required_parkeys(rpc):
    parkeys = rpc("get_required_parkeys", "hst_0729.pmap")
    assert set(parkeys) == {"acs", "cos", "nicmos", "stis", "synphot", "wfc3", "wfpc2"}
    expected = rmap.get_cached_mapping("hst_acs_biasfile_0345.rmap").get_required_parkeys()
    assert rpc("get_required_parkeys", "hst_acs_biasfile_0345.rmap") == list(expected)


def test_sqlite_export_has_catalog_and_history_without_private_columns(rpc):
    FileRecord.objects.filter(name="hst_0729.pmap").update(deliverer_email="secret@example.org")
    cache.invalidate()  # queryset.update() bypasses the save signals
    data = zlib.decompress(base64.b64decode(rpc("get_sqlite_db", "hst")))
    assert data.startswith(b"SQLite format 3")
    assert b"secret@example.org" not in data
    with open_sqlite(data) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(crds_hst_catalog)")]
        assert "name" in columns and "sha1sum" in columns
        assert not {"deliverer_email", "catalog_link", "present", "uploaded_sha1sum"} & set(columns)
        assert db.execute("SELECT count(*) FROM crds_hst_catalog").fetchone()[0] == catalog.cataloged().count()
        row = db.execute("SELECT state, size FROM crds_hst_catalog WHERE name='m4r1753rj_bia.fits'").fetchone()
        assert row[1] == FileRecord.objects.get(name="m4r1753rj_bia.fits").size
        history = db.execute("SELECT context FROM crds_hst_context_history WHERE state='latest' "
                             "ORDER BY start_date DESC").fetchall()
        assert history[0][0] == "hst_0729.pmap"
    assert "Mismatch" in rpc.error("get_sqlite_db", "roman")


class open_sqlite:
    def __init__(self, data: bytes):
        import tempfile

        self.tmp = tempfile.NamedTemporaryFile(suffix=".sqlite3")
        self.tmp.write(data)
        self.tmp.flush()

    def __enter__(self):
        self.db = sqlite3.connect(self.tmp.name)
        return self.db

    def __exit__(self, *exc):
        self.db.close()
        self.tmp.close()


def test_legacy_url_methods_and_file_exists(rpc):
    assert rpc("get_mapping_url", "hst_0729.pmap", "hst_acs_0421.imap") == "http://testserver/get/hst_acs_0421.imap"
    assert rpc("get_reference_url", "hst-latest", "m4r1753rj_bia.fits") == "http://testserver/get/m4r1753rj_bia.fits"
    assert rpc("get_url", "hst_0729.pmap", "hst_0729.pmap") == "http://testserver/get/hst_0729.pmap"
    assert "is not a mapping" in rpc.error("get_mapping_url", "hst_0729.pmap", "m4r1753rj_bia.fits")
    assert "is not known to CRDS" in rpc.error("get_url", "hst_0729.pmap", "nothere.fits")
    assert rpc("file_exists", "hst_0729.pmap") is True
    assert "is not known to CRDS" in rpc.error("file_exists", "hst_9999.pmap")


def test_system_versions_need_a_versions_context(rpc):
    assert "No 'versions' context is set" in rpc.error("get_system_versions", "1.0.0", "null")
    assert "Invalid calibration software version" in rpc.error("get_system_versions", "1.0;rm", None)
    assert "no system versions" in rpc.error("get_system_versions", "1.0.0", "hst_0729.pmap").lower()


@pytest.mark.parametrize("method, params", [
    ("get_mapping_names", [None]), ("get_reference_names", [5]), ("get_required_parkeys", [[]]),
    ("list_references", ["hst", 3]), ("get_file_info", ["hst", None]),
])
def test_ill_typed_catalog_calls(rpc, method, params):
    assert "InvalidRequestError: Parameter" in rpc.error(method, *params)
