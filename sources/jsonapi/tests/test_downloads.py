"""File distribution: unchecked_get, /get/ and the config files (crds-protocol.md §5)."""

import ast
import hashlib

import pytest
from crds_server.testing import archive_failed
from interactive import cache, storage
from interactive.models import FileRecord

REFERENCE = "v8q14451j_idc.fits"  # held in the test cache
MAPPING = "hst_acs_biasfile_0345.rmap"


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def downloads(client, db):
    cache.invalidate()
    return client


def test_mapping_and_reference_bytes_match_the_catalog(downloads):
    for name, area in ((MAPPING, "mappings"), (REFERENCE, "references"), ("hst_0729.pmap", "mappings")):
        response = downloads.get(f"/unchecked_get/{area}/hst/{name}")
        assert response.status_code == 200, name
        assert response.streaming
        data = content(response)
        record = FileRecord.objects.get(name=name)
        assert len(data) == record.size == int(response["Content-Length"])
        assert hashlib.sha1(data).hexdigest() == record.sha1sum
        assert response["ETag"] == f'"{record.sha1sum}"'
        assert response["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("path, says", [
    ("/unchecked_get/references/hst/m4r1753rj_bia.fits", "does not hold a copy"),
    ("/unchecked_get/references/hst/nothere_bia.fits", "is not known to CRDS"),
    (f"/unchecked_get/references/hst/{MAPPING}", "is not known to CRDS"),
    (f"/unchecked_get/mappings/jwst/{MAPPING}", "No such download area"),
    (f"/unchecked_get/pickles/hst/{MAPPING}", "No such download area"),
    ("/unchecked_get/mappings/hst/..", "Invalid file name"),
    ("/unchecked_get/mappings/hst/%2e%2e", "Invalid file name"),
    ("/unchecked_get/mappings/hst/x%00.rmap", "Invalid file name"),
    (f"/unchecked_get/mappings/hst/{MAPPING}%0A", "Invalid file name"),
    ("/unchecked_get/config/hst/crds.sqlite3", "No such configuration file"),
    ("/unchecked_get/config/hst/", "Give a file name"),
    ("/get/nothere.fits", "is not known to CRDS"),
    ("/get/m4r1753rj_bia.fits", "does not hold a copy"),
])
def test_refusals_are_plain_404s(downloads, path, says):
    response = downloads.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    assert says in response.content.decode()
    assert "/" + "tmp" not in response.content.decode()


def test_paths_with_slashes_never_reach_the_file_system(downloads):
    for path in ("/unchecked_get/mappings/hst/../../../site.env", "/unchecked_get/mappings/hst/%2Fetc%2Fpasswd",
                 "/unchecked_get/references/hst/sub/dir.fits"):
        assert downloads.get(path).status_code == 404, path


def test_pending_uploads_in_the_cache_are_not_served(downloads):
    name = "zzzz9999z_bia.fits"
    path = storage.cache_path(name)
    path.write_bytes(b"SIMPLE  =  T unconfirmed")
    failed = None
    try:
        FileRecord.objects.create(name=name, type="reference", observatory="hst", state="uploaded")
        assert downloads.get(f"/unchecked_get/references/hst/{name}").status_code == 404
        assert downloads.get(f"/get/{name}").status_code == 404
        failed = archive_failed(name)
        cache.invalidate()
        response = downloads.get(f"/get/{name}")
        assert response.status_code == 404 and "not yet available" in response.content.decode()
    finally:
        path.unlink()
        if failed:
            failed.unlink()


def test_brokered_get_redirects_to_the_download_url(downloads):
    for path in (f"/get/{REFERENCE}", f"/get/{REFERENCE}/"):
        response = downloads.get(path)
        assert response.status_code == 302
        assert response["Location"] == f"/unchecked_get/references/hst/{REFERENCE}"
    assert downloads.get(f"/get/{MAPPING}")["Location"] == f"/unchecked_get/mappings/hst/{MAPPING}"


def test_range_requests_resume_downloads(downloads):
    url = f"/unchecked_get/references/hst/{REFERENCE}"
    whole = storage.cache_path(REFERENCE).read_bytes()
    response = downloads.get(url, HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert content(response) == whole[:100]
    assert response["Content-Range"] == f"bytes 0-99/{len(whole)}"
    response = downloads.get(url, HTTP_RANGE="bytes=100-")
    assert content(response) == whole[100:] and response["Content-Length"] == str(len(whole) - 100)
    assert content(downloads.get(url, HTTP_RANGE="bytes=-50")) == whole[-50:]
    response = downloads.get(url, HTTP_RANGE=f"bytes={len(whole)}-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{len(whole)}"
    etag = downloads.get(url)["ETag"]
    assert downloads.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag).status_code == 206
    stale = downloads.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"0000"')
    assert stale.status_code == 200 and content(stale) == whole
    assert downloads.get(url, HTTP_RANGE="bytes=0-1,5-6").status_code == 200


@pytest.mark.parametrize("header", ["bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 30, "bytes=\u0661-2"])
def test_ranges_beyond_any_file_or_not_ascii_are_ignored(downloads, header):
    """Python's int() refuses over 4,300 digits and would answer 500: such ranges get the whole file."""
    url = f"/unchecked_get/references/hst/{REFERENCE}"
    response = downloads.get(url, HTTP_RANGE=header)
    assert response.status_code == 200
    assert content(response) == storage.cache_path(REFERENCE).read_bytes()


def test_conditional_get_by_sha1sum(downloads):
    url = f"/unchecked_get/mappings/hst/{MAPPING}"
    etag = downloads.get(url)["ETag"]
    assert downloads.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert downloads.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    assert downloads.get(url, HTTP_IF_NONE_MATCH="*").status_code == 304  # any copy the client holds is current


def test_config_files(downloads):
    response = downloads.get("/unchecked_get/config/hst/server_config")
    assert response.status_code == 200
    info = ast.literal_eval(response.content.decode())
    assert info["observatory"] == "hst" and info["latest_context"] == "hst_0729.pmap"
    assert info["mapping_url"] == {"hst": "http://testserver/unchecked_get/mappings/hst/"}
    bad = downloads.get("/unchecked_get/config/hst/bad_files.txt").content.decode().split()
    assert bad == info["bad_files_list"] and bad


def test_head_requests_answer_like_get_without_a_body(downloads):
    url = f"/unchecked_get/references/hst/{REFERENCE}"
    response = downloads.head(url)
    assert response.status_code == 200
    assert response["Content-Length"] == str(storage.cache_path(REFERENCE).stat().st_size)
    assert downloads.head("/unchecked_get/references/hst/nothere_bia.fits").status_code == 404
    assert downloads.post(url).status_code == 405
