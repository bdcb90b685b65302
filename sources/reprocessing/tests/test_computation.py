"""The affected-datasets computation against two real HST contexts, its outputs and its mail."""

from __future__ import annotations

import email
import email.policy
import gzip
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from interactive import contexts

from reprocessing import compute, rpc
from reprocessing.models import Computation
from reprocessing.tests.conftest import NEW, OLD, write_jsonl

CRDS = str(Path(sys.executable).with_name("crds"))


def client_affected(rules: Path, tmp_path: Path, rows, types: list[str], since: str) -> list[str]:
    """What the crds library's own bestrefs comparison finds for the same datasets."""
    pickle = write_jsonl(tmp_path / "datasets.json", rows)
    env = dict(os.environ, CRDS_PATH=str(rules), CRDS_OBSERVATORY="hst", CRDS_MODE="local",
               CRDS_SERVER_URL="https://127.0.0.1:9")
    out = subprocess.run(
        [CRDS, "bestrefs", "--load-pickles", str(pickle), "--old-context", OLD, "--new-context", NEW,
         "--types", *types, "--datasets-since", since.replace(" ", "T"),
         "--na-differences-matter", "--undefined-differences-matter", "--print-affected"],
        env=env, capture_output=True, text=True, timeout=300, check=True)
    return out.stdout.split()


def read_gz(path: Path) -> str:
    with gzip.open(path, "rt") as handle:
        return handle.read()


def test_plan_uses_crds_diff(rules):
    affected, since = compute.plan(OLD, NEW)
    assert affected == {"wfc3": ["darkfile", "drkcfile"]}
    assert since == {"wfc3": "2019-05-13 05:05:08"}


def test_affected_set_equals_crds_bestrefs(catalog, rules, reprocessing_root, tmp_path):
    comp = compute.start(OLD, NEW, chunk_size=97)  # eager: chunks run in-process
    comp.refresh_from_db()
    assert comp.state == "done" and comp.status == 0, comp.message
    wfc3_rows = [(i, h) for i, h in catalog if h["INSTRUME"] == "WFC3"]
    since = comp.since["wfc3"]
    recent = [r for r in wfc3_rows if f"{r[1]['DATE-OBS']} {r[1]['TIME-OBS']}" >= since]
    assert comp.total_datasets == len(recent) > 0  # COS and older WFC3 datasets were narrowed away
    expected = client_affected(rules, tmp_path, wfc3_rows, comp.affected_types["wfc3"], since)
    assert expected, "the synthetic catalog should contain affected datasets"
    outdir = reprocessing_root / comp.directory
    ids = read_gz(outdir / "affected_ids.txt.gz").split()
    assert ids == expected == sorted(ids) and all(i == i.lower() for i in ids)
    assert comp.affected_count == len(ids)
    assert set(comp.counts) == {"wfc3"} and set(comp.counts["wfc3"]) <= {"darkfile", "drkcfile"}


def test_outputs_naming_and_completion_mark(catalog, reprocessing_root):
    comp = compute.start(OLD, NEW, chunk_size=200)
    comp.refresh_from_db()
    assert re.match(r"^\d{4}-\d{2}-\d{2}-\d{2}:\d{2}:\d{2}_0728_0729$", comp.directory)
    outdir = reprocessing_root / comp.directory
    assert sorted(p.name for p in outdir.iterdir()) == [
        "affected_ids.txt.gz", "bestrefs.status", "bestrefs_err.txt.gz", "bestrefs_err_truncated.txt.gz"]
    assert (outdir / "bestrefs.status").read_text().strip() == "0"
    full = read_gz(outdir / "bestrefs_err.txt.gz").splitlines()
    assert full[0].startswith("CRDS hst django datasets affected hst_0728.pmap --> hst_0729.pmap on ")
    assert full[-1] == f"OK: CRDS hst django datasets affected {OLD} --> {NEW} : {comp.affected_count} affected"
    stamps = {p.name: p.stat().st_mtime_ns for p in outdir.iterdir()}
    assert stamps["bestrefs_err_truncated.txt.gz"] == max(stamps.values())
    assert compute.truncated([str(n) for n in range(1000)])[200] == "<snip>"
    assert len(compute.truncated([str(n) for n in range(1000)])) == 401


def test_get_affected_datasets_exact_wildcard_and_missing(catalog, reprocessing_root):
    with pytest.raises(rpc.NoPrecomputedResults,
                       match="No precomputed affected datasets results exist for old_context='hst_0728.pmap' "
                             "and new_context='hst_0729.pmap'"):
        rpc.get_affected_datasets("hst", OLD, NEW)
    comp = compute.start(OLD, NEW, chunk_size=300)
    comp.refresh_from_db()
    exact = rpc.get_affected_datasets("hst", OLD, NEW)
    assert exact["computation_dir"] == comp.directory
    assert (exact["old_context"], exact["new_context"], exact["observatory"]) == (OLD, NEW, "hst")
    assert exact["bestrefs_status"] == 0 and len(exact["affected_ids"]) == comp.affected_count
    assert "Affected products" in exact["bestrefs_err_summary"]
    assert rpc.get_affected_datasets("hst", None, None) == exact
    assert rpc.get_affected_datasets("hst", None, NEW) == exact
    with pytest.raises(rpc.NoPrecomputedResults):
        rpc.get_affected_datasets("hst", NEW, "hst_0730.pmap")
    with pytest.raises(contexts.ContextError, match="Mismatch between requested observatory 'jwst'"):
        rpc.get_affected_datasets("jwst", None, None)
    with pytest.raises(rpc.InvalidContext, match="give a pipeline mapping"):
        rpc.get_affected_datasets("hst", "hst_wfc3.imap", None)
    # the bootstrap hst.pmap opening the context history is cataloged but never computed
    with pytest.raises(rpc.NoPrecomputedResults, match="old_context='hst.pmap' and new_context='hst_0003.pmap'"):
        rpc.get_affected_datasets("hst", "hst.pmap", "hst_0003.pmap")
    for unknown in ("hst_new.pmap", "jwst.pmap", "jwst_0001.pmap"):
        with pytest.raises(rpc.InvalidContext, match=f"Invalid context '{unknown}'"):
            rpc.get_affected_datasets("hst", None, unknown)
    # an incomplete directory (no readable status) is not a result
    (reprocessing_root / "2099-01-01-00:00:00_0729_0730").mkdir()
    with pytest.raises(rpc.NoPrecomputedResults):
        rpc.get_affected_datasets("hst", NEW, "hst_0730.pmap")


def test_reversions_and_bad_contexts_are_refused(db, rules, reprocessing_root):
    with pytest.raises(compute.ComputationError, match="reversions are not computed"):
        compute.start(NEW, OLD)
    with pytest.raises(compute.ComputationError, match="Invalid context '../etc.pmap'"):
        compute.start("../etc.pmap", NEW)
    assert Computation.objects.count() == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"


def test_result_mail_has_an_empty_body_the_snipped_log_and_the_gzipped_ids(catalog, reprocessing_root, settings):
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.CRDS_REPROCESSING_EMAILS = ["ops@example.org", "archive@example.org"]
        comp = compute.start(OLD, NEW, chunk_size=250)
    finally:
        controller.stop()
    comp.refresh_from_db()
    assert len(sink.messages) == 1
    rcpts, message = sink.messages[0]
    assert sorted(rcpts) == ["archive@example.org", "ops@example.org"]
    assert message["Subject"] == (f"OK: CRDS hst django datasets affected {OLD} --> {NEW} : "
                                  f"{comp.affected_count} affected")
    assert message.get_body() is None  # an empty body: Django sends only the attachments
    outdir = reprocessing_root / comp.directory
    attached = {p.get_filename(): p.get_payload(decode=True) for p in message.iter_attachments()}
    assert list(attached) == ["bestrefs_err_truncated.txt", "affected_ids.txt.gz"]
    assert attached["affected_ids.txt.gz"] == (outdir / "affected_ids.txt.gz").read_bytes()
    assert len(gzip.decompress(attached["affected_ids.txt.gz"]).decode().split()) == comp.affected_count > 0
    log = attached["bestrefs_err_truncated.txt"].decode().replace("\r\n", "\n")  # SMTP sends text with CRLF
    assert log == read_gz(outdir / "bestrefs_err_truncated.txt.gz")
    assert f"INFO - Affected products = {comp.affected_count}\n" in log


def test_fits_keywords_reach_jwst_rules_in_their_own_vocabulary(monkeypatch):
    """A FITS-keyword header (as loaded from FITS files) is compared as hv_best_references reads it:
    JWST rules match on data-model keys (META.*), which locate.fits_to_parkeys maps it to."""
    from crds.core import heavy_client
    from crds_server import testing

    monkeypatch.setenv("CRDS_PATH", str(testing.test_cache()))
    header = {"INSTRUME": "NIRCAM", "DETECTOR": "NRCA1", "FILTER": "F200W", "PUPIL": "CLEAR",
              "EXP_TYPE": "NRC_IMAGE", "READPATT": "RAPID", "SUBARRAY": "FULL", "DATE-OBS": "2023-01-01",
              "TIME-OBS": "00:00:00", "CHANNEL": "SHORT", "MODULE": "A", "TELESCOP": "JWST"}
    types = ["dark", "flat", "gain", "mask", "readnoise"]
    updates, errors, killed = compute.compare_dataset("jw0001:jw0001", header, {"nircam": types},
                                                      "jwst_0540.pmap", "jwst_0541.pmap")
    assert (errors, killed) == ([], False)
    expected = {filekind: [heavy_client.hv_best_references(context, header, include=[filekind])[filekind]
                           for context in ("jwst_0540.pmap", "jwst_0541.pmap")] for filekind in types}
    assert all(ref.endswith(".fits") for refs in expected.values() for ref in refs), expected
    changed = {(instrument, filekind): (old, new) for instrument, filekind, old, new in updates}
    assert changed == {("nircam", filekind): tuple(refs) for filekind, refs in expected.items()
                       if refs[0] != refs[1]}
