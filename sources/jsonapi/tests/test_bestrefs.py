"""Best references over JSON-RPC equal the crds library's local computation (crds-protocol.md §4.4)."""

import pytest
from crds import data_file
from crds.core import heavy_client
from crds_server import testing

DATASET = "j8bt05njq_raw.fits"


@pytest.fixture(scope="module")
def header() -> dict[str, str]:
    """The dataset header as the client sends it: every value a string."""
    raw = data_file.get_header(str(testing.test_data() / "hst" / DATASET))
    return {key: str(value) for key, value in raw.items()}


def test_applicable_types_only_like_a_local_client(rpc, header):
    expected = heavy_client.hv_best_references("hst_0729.pmap", header)
    result = rpc("get_best_references", "hst_0729.pmap", header, None)
    assert result == expected
    assert result["biasfile"].endswith("_bia.fits")
    assert result["atodtab"] == "NOT FOUND n/a"
    assert all(key == key.lower() for key in result)
    everything = set(heavy_client.get_symbolic_mapping("hst_0729.pmap").get_imap("acs").selections)
    assert set(result) <= everything


def test_requested_types_case_insensitive(rpc, header):
    result = rpc("get_best_references", "hst-latest", header, ["BIASFILE", "darkfile"])
    assert result == heavy_client.hv_best_references("hst_0729.pmap", header, include=["biasfile", "darkfile"])
    assert set(result) == {"biasfile", "darkfile"}


def test_other_contexts_and_lookup_failures(rpc, header):
    assert rpc("get_best_references", "hst_0700.pmap", header, ["biasfile"]) == \
        heavy_client.hv_best_references("hst_0700.pmap", header, include=["biasfile"])
    result = rpc("get_best_references", "hst_0729.pmap", dict(header, **{"DATE-OBS": "1970-01-01"}), ["biasfile"])
    assert result["biasfile"].startswith("NOT FOUND")


def test_header_map(rpc, header):
    other = dict(header, CCDAMP="A")
    result = rpc("get_best_references_by_header_map", "hst_0729.pmap",
                 {"J8BT05NJQ": header, "j8bt05njq:other": other}, ["biasfile"])
    assert result["J8BT05NJQ"] == [True, heavy_client.hv_best_references("hst_0729.pmap", header, ["biasfile"])]
    assert result["j8bt05njq:other"] == [True, heavy_client.hv_best_references("hst_0729.pmap", other,
                                                                              ["biasfile"])]
    failed = rpc("get_best_references_by_header_map", "hst_0729.pmap", {"x1": {"INSTRUME": "NOSUCH"}}, None)
    assert failed["x1"][0] is False and failed["x1"][1].startswith("FAILED: ")
    assert "Invalid dataset id" in rpc.error("get_best_references_by_header_map", "hst_0729.pmap",
                                             {"<bad id>": header}, None)


@pytest.mark.parametrize("context, hdr, reftypes, message", [
    ("hst_9999.pmap", {"INSTRUME": "ACS"}, None, "is not known to CRDS"),
    ("hst_acs_0421.imap", {"INSTRUME": "ACS"}, None, "a .pmap is required"),
    ("hst_0729.pmap", {"BAD KEY": "x"}, None, "Invalid header keyword"),
    ("hst_0729.pmap", {"INSTRUME\n": "ACS"}, None, "Invalid header keyword"),
    ("hst_0729.pmap", {"INSTRUME": ["ACS"]}, None, "must be a string"),
    ("hst_0729.pmap", {"INSTRUME": "A" * 2000}, None, "longer than 1024 characters"),
    ("hst_0729.pmap", {"INSTRUME": "ACS"}, ["bias file"], "Invalid reference type"),
    ("jwst_0001.pmap", {"INSTRUME": "ACS"}, None, "doesn't match the observatory"),
])
def test_bad_best_references_calls(rpc, context, hdr, reftypes, message):
    assert message in rpc.error("get_best_references", context, hdr, reftypes)


def test_repeated_literal_context_needs_no_catalog_round_trip(rpc, header, django_assert_num_queries, monkeypatch):
    """A warm worker answers best references from memory: no query, no catalog-generation lookup."""
    from interactive import cache

    rpc("get_best_references", "hst_0729.pmap", header, ["biasfile"])
    lookups = []
    real_generation = cache.generation
    monkeypatch.setattr(cache, "generation", lambda: lookups.append(1) or real_generation())
    with django_assert_num_queries(0):
        rpc("get_best_references", "hst_0729.pmap", header, ["biasfile"])
    assert lookups == []


def test_context_not_yet_available_after_it_was_seen(rpc, header):
    """The in-memory 'seen distributable' answer is dropped when the catalog changes."""
    from interactive.models import FileRecord

    rpc("get_best_references", "hst_0729.pmap", header, ["biasfile"])
    record = FileRecord.objects.get(name="hst_0729.pmap")
    record.state = "uploaded"
    record.save()
    message = rpc.error("get_best_references", "hst_0729.pmap", header, ["biasfile"])
    assert "hst_0729.pmap" in message and "not yet available" in message


def test_forgetting_loaded_rules_drops_what_the_worker_remembered(rpc, header):
    """What Apache's JSON-RPC workers run when a restore touches their script (servers/crds.wsgi)."""
    from crds.core import rmap
    from crds_server.wsgi import forget_loaded_rules
    from interactive import cache
    from interactive.models import FileRecord

    rpc("get_best_references", "hst_0729.pmap", header, ["biasfile"])
    loaded = rmap.get_cached_mapping("hst_0729.pmap")
    assert cache.seen_distributable("hst_0729.pmap")
    # A restore changes rows behind the worker's back: no save signal, no new catalog generation.
    FileRecord.objects.filter(name="hst_0729.pmap").update(state="uploaded")
    assert rpc("get_best_references", "hst_0729.pmap", header, ["biasfile"])  # still remembered

    forget_loaded_rules()
    assert not cache.seen_distributable("hst_0729.pmap")
    message = rpc.error("get_best_references", "hst_0729.pmap", header, ["biasfile"])
    assert "not yet available" in message
    assert rmap.get_cached_mapping("hst_0729.pmap") is not loaded  # parsed again from the file
