"""The computations page, its progress endpoint and id-list downloads."""

from __future__ import annotations

from django.conf import settings

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


def test_progress_goes_to_the_computations_jpoll_channel(client, catalog, reprocessing_root):
    from jpoll import service

    comp = compute.start(OLD, NEW, chunk_size=100)
    comp.refresh_from_db()
    messages = service.pull(comp.channel, -1)
    lines = [m["data"] for m in messages if m["type"] == "log_message"]
    assert lines[0] == (f"Computing datasets affected by {OLD} --&gt; {NEW} (wfc3 darkfile drkcfile since "
                        f"{comp.since['wfc3']}): {comp.total_datasets} datasets in {comp.total_chunks} chunks.")
    assert [line.split(" done by ")[0] for line in lines[1:-1]] == [
        f"Chunk {n} of {comp.total_chunks}" for n in range(1, comp.total_chunks + 1)]
    assert lines[-1].startswith("Finished: OK: CRDS hst django datasets affected")
    assert messages[-1]["type"] == "done"
    assert messages[-1]["data"] == {"status": 0, "result": f"{settings.CRDS_PUBLIC_URL}/reprocessing/"
                                                           f"#computation-{comp.id}"}
    # Followers cannot silence a computation's progress: the key is on a public page.
    service.abort(comp.channel)
    compute.publish(comp, "still writing")
    assert [m["data"] for m in service.pull(comp.channel, messages[-1]["id"])] == ["still writing"]
    page = client.get("/reprocessing/").content.decode()
    assert f'data-channel="{comp.channel}"' in page and f'id="computation-{comp.id}"' in page
