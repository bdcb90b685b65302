"""Progress on jpoll, followed live by the computations page (chromium, a real worker, Redis, runserver)."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from crds_server.browser import SCREENSHOTS, requires_chromium

from reprocessing.testing import WorkerRoot
from reprocessing.tests.conftest import NEW, OLD, SHARED_CACHE, synthetic_rows

pytestmark = requires_chromium


def pull(url: str, key: str, since: int = -1) -> list[dict]:
    body = json.dumps({"jsonrpc": "1.0", "method": "jpoll_pull_messages", "params": [key, since], "id": 1}).encode()
    request = urllib.request.Request(f"{url}/json/", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        reply = json.loads(response.read())
    assert reply["error"] is None, reply
    return reply["result"]


@pytest.fixture
def served(tmp_path):
    """A server root (chunks of 3) with 1,000 WFC3 datasets, one worker that stops in its third chunk, a server."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRDS_PATH", str(SHARED_CACHE))
        rows = synthetic_rows(1000, seed=5)
    path = tmp_path / "wfc3.jsonl"
    path.write_text("".join(json.dumps({"id": i, "header": h}) + "\n" for i, h in rows))
    hold = tmp_path / "hold"
    hold.mkdir()
    root = WorkerRoot(SHARED_CACHE, redis_db=14, chunk_size=3,
                      CRDS_DATASET_SOURCE="reprocessing.tests.flaky_source.HoldingSource", CRDS_TEST_HOLD_DIR=str(hold))
    try:
        root.manage("load_datasets", str(path))
        (hold / "hold").touch()
        root.start_workers(1)
        yield root, root.serve(), hold
    finally:
        (hold / "release").touch()
        root.close()


def test_page_follows_the_computation_on_its_jpoll_channel(served, page):
    root, url, hold = served
    out = root.manage("compute_affected", OLD, NEW)
    assert " running " in out, out
    deadline = time.monotonic() + 120
    while not list(hold.glob("held-*")):
        assert time.monotonic() < deadline, "the worker did not reach its third chunk"
        time.sleep(0.1)
    comp = root.computation()
    assert comp["channel"] and comp["state"] == "running" and comp["total_chunks"] >= 5

    page.goto(f"{url}/reprocessing/")
    row = page.locator(f"#computation-{comp['id']}")
    assert row.get_attribute("data-channel") == comp["channel"]
    text = row.locator(".progress-text")
    # The last progress message so far: two chunks done by the worker.
    page.wait_for_function("([t, done]) => t.textContent.endsWith(done)",
                           arg=[text.element_handle(), f"2 of {comp['total_chunks']} chunks done."], timeout=30_000)
    assert text.inner_text().startswith("Chunk ") and f"6 of {comp['total_datasets']} datasets" in text.inner_text()
    row.locator("summary").click()
    assert row.locator(".progress-log div").count() == 3  # the plan and two chunks
    page.screenshot(path=str(SCREENSHOTS / "reprocessing_progress.png"))

    (hold / "release").touch()
    page.wait_for_function(f"() => document.querySelector('#computation-{comp['id']}').dataset.state === 'done'",
                           timeout=120_000)  # the page reloaded at the `done` message
    row = page.locator(f"#computation-{comp['id']}")
    assert "done OK" in row.locator(".state").inner_text()
    assert row.locator("a", has_text="affected_ids").count() == 1

    comp = root.computation()
    messages = pull(url, comp["channel"])
    assert [m["id"] for m in messages] == sorted(m["id"] for m in messages)
    lines = [m["data"] for m in messages if m["type"] == "log_message"]
    assert lines[0].startswith(f"Computing datasets affected by {OLD} --&gt; {NEW} (wfc3 darkfile drkcfile since ")
    chunk_lines = [line for line in lines if line.startswith("Chunk ")]
    assert sorted(int(line.split()[1]) for line in chunk_lines) == list(range(1, comp["total_chunks"] + 1))
    assert chunk_lines[-1].endswith(f"{comp['total_datasets']} of {comp['total_datasets']} datasets (100.0%), "
                                    f"{comp['total_chunks']} of {comp['total_chunks']} chunks done.")
    assert lines[-1] == (f"Finished: OK: CRDS hst django datasets affected {OLD} --&gt; {NEW} : "
                         f"{comp['affected_count']} affected")
    assert messages[-1]["type"] == "done" and messages[-1]["data"]["status"] == 0
    assert messages[-1]["data"]["result"].endswith(f"/reprocessing/#computation-{comp['id']}")
