"""host/verify_group_cache: the ops server's weekly check of the shared read-only cache (§12's
`crds_verify_cache shared`): mappings by sha1sum, references by existence and length, nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonapi import live_server
from jsonapi.live_server import free_port

from tests.ops_support import TINY_CONTEXT, TINY_REFERENCES, make_root, remove_root, serve, tiny_rules_cache, tree

OPERATORS = "ops@example.org"


@pytest.fixture(scope="module")
def ops(smtp, tmp_path_factory):
    """An ops server of the tiny rules, running, and the shared cache it has synchronised."""
    port = free_port()  # the host/ jobs take the server's URL from its site.env
    root = make_root(tiny_rules_cache(tmp_path_factory.mktemp("cache")), usecase="ops",
                     CRDS_EMAIL_PORT=str(smtp[1]), CRDS_ADMIN_EMAILS=OPERATORS,
                     CRDS_PUBLIC_URL=f"http://127.0.0.1:{port}")
    process, _ = serve(root, port)
    try:
        shared = tmp_path_factory.mktemp("grp") / "cache"
        root.env["CRDS_GROUP_CACHE"] = str(shared)
        synced = root.tool("host/sync_ops_to_grp")
        assert synced.returncode == 0, synced.stderr
        yield root
    finally:
        live_server.terminate(process, 20)
        remove_root(root)


def test_a_damaged_shared_cache_is_reported_and_mailed_and_left_as_it_is(ops, smtp):
    sink, _ = smtp
    shared = ops.env["CRDS_GROUP_CACHE"]
    mailed = len(sink.messages)
    clean = ops.tool("host/verify_group_cache")
    assert clean.returncode == 0, clean.stderr
    assert len(sink.messages) == mailed, "a clean cache is not mailed"
    log = next((ops.root / "cron_logs").glob("verify_group_cache.*.log")).read_text()
    assert f"verify shared cache {shared}: every file of every context checked against" in log

    mappings, references = f"{shared}/mappings/hst", f"{shared}/references/hst"
    rmap = Path(mappings) / "hst_acs_biasfile_0001.rmap"
    text = rmap.read_text()
    rmap.chmod(0o644)
    rmap.write_text(text.replace("HRC", "XYZ"))  # same length, other bytes
    truncated = Path(references) / TINY_REFERENCES[0]
    truncated.chmod(0o644)
    with open(truncated, "r+b") as handle:
        handle.truncate(2880)
    (Path(references) / TINY_REFERENCES[1]).unlink()
    before = tree(Path(shared))

    damaged = ops.tool("host/verify_group_cache")
    assert damaged.returncode == 1
    assert damaged.stderr.count("\n") == 1, damaged.stderr
    assert damaged.stderr.startswith("verify_group_cache failed (exit 1): CommandError: verify shared cache "
                                     "FAILED: 3 error(s): ")
    assert tree(Path(shared)) == before, "verification changed the shared cache"
    assert len(sink.messages) == mailed + 1
    recipients, message = sink.messages[-1]
    assert recipients == [OPERATORS]
    assert message["Subject"].startswith("CRDS HST OPS verify shared cache FAILED: 3 error(s): ")
    body = message.get_content()
    assert "'hst_acs_biasfile_0001.rmap' checksum mismatch" in body
    assert f"'{TINY_REFERENCES[0]}' length mismatch LOCAL size='2880'" in body
    assert f"'{TINY_REFERENCES[1]}' doesn't exist" in body

    # Celery beat's task: the same check, mailed once (the task's failure is not mailed again).
    status = ops.shell("from operations import tasks\n"
                       "print(tasks.verify_group_cache.apply(throw=False).status)").strip().splitlines()[-1]
    assert status == "FAILURE"
    assert len(sink.messages) == mailed + 2
    assert sink.messages[-1][1]["Subject"] == message["Subject"]
    assert TINY_CONTEXT in {path.name for path in Path(mappings).iterdir()}


def test_refusals_name_the_problem_and_change_nothing(ops, tmp_path):
    for target, message in (("relative/dir", "Give the shared cache as an absolute path"),
                            (str(tmp_path / "missing"), "is not a CRDS cache of hst (it has no config/hst directory)"),
                            (str(tmp_path), "is not a CRDS cache of hst")):
        result = ops.manage("verify_group_cache", target, check=False)
        assert result.returncode == 1 and message in result.stderr, (target, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "missing").exists() and list(tmp_path.iterdir()) == []

    env = dict(ops.env)
    del ops.env["CRDS_GROUP_CACHE"]
    try:
        result = ops.tool("host/verify_group_cache")
    finally:
        ops.env.update(env)
    assert result.returncode == 1 and "CRDS_GROUP_CACHE (the shared cache directory) is not set" in result.stderr
