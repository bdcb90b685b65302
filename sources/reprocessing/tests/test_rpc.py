"""Dataset and affected-datasets JSON-RPC methods over the /json/ endpoint (Django test client)."""

from __future__ import annotations

import pytest
from jsonapi.tests.conftest import Caller

from reprocessing import compute
from reprocessing.tests.conftest import NEW, OLD


@pytest.fixture
def rpc(client, catalog):
    from interactive import cache

    cache.invalidate()
    return Caller(client)


def test_dataset_ids_and_since(rpc, catalog):
    wfc3 = sorted(i for i, h in catalog if h["INSTRUME"] == "WFC3")
    assert rpc("get_dataset_ids", NEW, "wfc3", None) == wfc3
    assert rpc("get_dataset_ids", NEW, "WFC3") == wfc3  # older clients omit datasets_since
    recent = sorted(i for i, h in catalog if h["INSTRUME"] == "WFC3" and h["DATE-OBS"] >= "2019-01-01")
    assert rpc("get_dataset_ids", NEW, "wfc3", "2019-01-01T00:00:00") == recent
    assert rpc("get_dataset_ids", NEW, "nicmos", None) == []
    assert "Unknown instrument 'hubble'" in rpc.error("get_dataset_ids", NEW, "hubble", None)
    assert "Invalid datasets_since 'yesterday'" in rpc.error("get_dataset_ids", NEW, "wfc3", "yesterday")
    assert "hst_9999.pmap" in rpc.error("get_dataset_ids", "hst_9999.pmap", "wfc3", None)


def test_headers_by_id_accepts_either_half_and_any_case(rpc, catalog):
    associated = next(i for i, _h in catalog if not i.split(":")[0].endswith("Q"))
    product, exposure = associated.split(":")
    headers = rpc("get_dataset_headers_by_id", NEW, [product.lower()], None)
    members = sorted(i for i, _h in catalog if i.startswith(product + ":"))
    assert sorted(headers) == members and len(members) >= 2
    assert rpc("get_dataset_headers_by_id", NEW, [exposure.lower()], None) == {
        associated: dict(catalog)[associated]}
    for unknown in ("IXXXXXX0Q:IXXXXXX0Q", "ixxxxxx0q"):  # a bare id is answered in the two-part form too
        missing = rpc("get_dataset_headers_by_id", NEW, [unknown], None)
        assert list(missing) == ["IXXXXXX0Q:IXXXXXX0Q"] and "NOT FOUND" in missing["IXXXXXX0Q:IXXXXXX0Q"]
    too_many = rpc.error("get_dataset_headers_by_id", NEW, [f"I{n:08d}" for n in range(1001)], None)
    assert "at most 1000 per call" in too_many
    assert "Invalid dataset id" in rpc.error("get_dataset_headers_by_id", NEW, ["a/b"], None)


def test_best_references_by_ids_match_the_rules(rpc, catalog):
    import crds

    ident, header = next((i, h) for i, h in catalog if h["INSTRUME"] == "WFC3")
    result = rpc("get_best_references_by_ids", NEW, [ident.lower()], ["darkfile", "BIASFILE"], "true")
    ok, refs = result[ident]
    expected = crds.getrecommendations(header, reftypes=["darkfile", "biasfile"], context=NEW,
                                       observatory="hst", fast=True)
    assert ok is True and refs == {k: str(v) for k, v in expected.items()}
    assert result["headers"][ident]["INSTRUME"] == "WFC3"
    assert "headers" not in rpc("get_best_references_by_ids", NEW, [ident], None, "nil")
    assert "Invalid reference type" in rpc.error("get_best_references_by_ids", NEW, [ident], ["no type!"], False)


@pytest.fixture
def association(db, rules):
    """One association of two WFC3 exposures, LA8Q99010:LA8Q99011 and LA8Q99010:LA8Q99012."""
    from reprocessing import loader
    from reprocessing.tests.conftest import synthetic_rows

    rows = synthetic_rows(2, seed=11)
    ids = ["LA8Q99010:LA8Q99011", "LA8Q99010:LA8Q99012"]
    loader.store([loader.make_dataset(i, h) for i, (_old, h) in zip(ids, rows, strict=True)])
    return dict(zip(ids, (h for _i, h in rows), strict=True))


def test_best_references_by_ids_answer_the_ids_asked_for(rpc, association):
    """Simple ids get simple-id keys; an association answers with its first member (the original's rule)."""
    import crds

    result = rpc("get_best_references_by_ids", NEW, ["la8q99011", "LA8Q99010", "LA8Q99012", "LA8Q99099"],
                 ["darkfile"], True)
    assert sorted(result) == ["LA8Q99010", "LA8Q99011", "LA8Q99012", "LA8Q99099", "headers"]
    first, second = association.values()
    for requested, header in (("LA8Q99011", first), ("LA8Q99010", first), ("LA8Q99012", second)):
        expected = crds.getrecommendations(header, reftypes=["darkfile"], context=NEW, observatory="hst", fast=True)
        assert result[requested] == [True, {k: str(v) for k, v in expected.items()}]
        assert result["headers"][requested]["INSTRUME"] == "WFC3"
    assert result["LA8Q99099"][0] is False and "not in the dataset catalog" in result["LA8Q99099"][1]
    assert "LA8Q99099" not in result["headers"]
    compound = rpc("get_best_references_by_ids", NEW, ["LA8Q99010:LA8Q99012"], ["darkfile"], False)
    assert list(compound) == ["LA8Q99010:LA8Q99012"] and compound["LA8Q99010:LA8Q99012"] == result["LA8Q99012"]


def test_aui_best_references_drop_na_and_failures(rpc, catalog):
    product = next(i for i, _h in catalog if not i.split(":")[0].endswith("Q")).split(":")[0]
    result = rpc("get_aui_best_references", NEW, [product])
    ok, files = result[product]
    assert ok is True and files == sorted(files) and files
    assert not [f for f in files if "NOT FOUND" in f or f.upper() == "N/A"]
    assert rpc("get_aui_best_references", NEW, ["IXXXXXX0Q"])["IXXXXXX0Q"][0] is False


def test_get_affected_datasets_over_json(rpc, reprocessing_root):
    message = rpc.error("get_affected_datasets", "hst", OLD, NEW)
    assert ("No precomputed affected datasets results exist for old_context='hst_0728.pmap' and "
            "new_context='hst_0729.pmap'") in message
    comp = compute.start(OLD, NEW, chunk_size=500)
    comp.refresh_from_db()
    result = rpc("get_affected_datasets", "hst", None, None)
    assert result["computation_dir"] == comp.directory and len(result["affected_ids"]) == comp.affected_count
    assert rpc("get_affected_datasets", "hst", OLD, NEW) == result


def test_get_affected_datasets_null_observatory_means_this_server(rpc, reprocessing_root):
    comp = compute.start(OLD, NEW, chunk_size=500)
    comp.refresh_from_db()
    result = rpc("get_affected_datasets", None, OLD, NEW)
    assert result["computation_dir"] == comp.directory and result["observatory"] == "hst"
    assert rpc("get_affected_datasets", "HST", None, None) == result
    message = rpc.error("get_affected_datasets", "jwst", OLD, NEW)
    assert "Mismatch between requested observatory 'jwst' and server observatory 'hst'" in message
