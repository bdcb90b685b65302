"""The computations page, its progress endpoint and id-list downloads."""

from __future__ import annotations

from reprocessing import compute
from reprocessing.tests.conftest import NEW, OLD


def test_page_progress_and_download(client, catalog, reprocessing_root):
    assert "No computations yet." in client.get("/reprocessing/").content.decode()
    comp = compute.start(OLD, NEW, chunk_size=100)
    comp.refresh_from_db()
    page = client.get("/reprocessing/").content.decode()
    assert f"{OLD} &rarr; {NEW}" in page and "done OK" in page and "wfc3 darkfile" in page
    progress = client.get(f"/reprocessing/{comp.id}/progress/").json()
    assert progress["state"] == "done" and progress["percent"] == 100.0
    assert progress["chunks_done"] == progress["total_chunks"] == comp.total_chunks
    ids = client.get(f"/reprocessing/{comp.id}/affected_ids.txt")
    assert ids["Content-Disposition"] == 'attachment; filename="affected_ids_0728_0729.txt"'
    assert len(ids.content.decode().split()) == comp.affected_count
    assert client.get("/reprocessing/999/progress/").status_code == 404
    assert client.post("/reprocessing/").status_code == 405
