"""The real `crds` client against a live server: dataset ids, headers, bestrefs --affected-datasets, query_affected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reprocessing.tests.conftest import NEW, OLD, SHARED_CACHE

CRDS = str(Path(sys.executable).parent / "crds")


@pytest.fixture(scope="module")
def server(crds_live_server):
    """The live server with 500 synthetic WFC3 datasets and the computation hst_0728 → hst_0729."""
    crds_live_server.manage("generate_datasets", "--context", NEW, "--instruments", "wfc3", "--count", "500",
                            "--seed", "9")
    out = crds_live_server.manage("compute_affected", OLD, NEW, "--chunk-size", "50").stdout
    assert " done OK " in out, out
    return crds_live_server


@pytest.fixture(scope="module")
def client_cache(tmp_path_factory) -> Path:
    """A client cache whose mappings are the shared (read-only) HST rules; its config is its own."""
    cache = tmp_path_factory.mktemp("client-cache")
    (cache / "mappings").mkdir()
    (cache / "mappings" / "hst").symlink_to(SHARED_CACHE / "mappings" / "hst")
    return cache


def crds(server, cache: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([CRDS, *args], env=server.client_env(cache), capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, f"crds {' '.join(args)}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done


def ids_of(server) -> list[str]:
    code = "from reprocessing.models import Dataset; print(*Dataset.objects.values_list('dataset_id', flat=True))"
    return sorted(i for i in server.manage("shell", "-c", code).stdout.split() if ":" in i)


def test_list_dataset_ids_and_headers(server, client_cache):
    out = crds(server, client_cache, "list", "--dataset-ids-for-instruments", "wfc3").stdout.split()
    assert sorted(i for i in out if ":" in i) == ids_of(server)
    product = next(i for i in ids_of(server) if not i.split(":")[0].endswith("Q")).split(":")[0]
    expansions = crds(server, client_cache, "list", "--dataset-headers", product.lower(), "--id-expansions-only")
    assert sorted(expansions.stdout.split()) == [i for i in ids_of(server) if i.startswith(product + ":")]


def test_list_dataset_headers_of_an_unknown_id(server, client_cache):
    """The client splits every returned id at ':'; an unknown bare id is reported, not a crash."""
    done = crds(server, client_cache, "list", "--dataset-headers", "ixxxxxx0q", check=False)
    assert "No header for 'IXXXXXX0Q:IXXXXXX0Q'" in done.stderr, done.stderr[-2000:]
    assert "not in the dataset catalog" in done.stderr and "not enough values to unpack" not in done.stderr


def test_bestrefs_affected_datasets_equals_server_result(server, client_cache):
    """The client's own affected-datasets comparison, fed by this server's dataset RPCs, finds the same ids."""
    client = crds(server, client_cache, "bestrefs", "--affected-datasets", "--old-context", OLD,
                  "--new-context", NEW)
    expected = client.stdout.split()
    assert expected, client.stderr[-2000:]
    queried = crds(server, client_cache, "query_affected", "-x", OLD, "-y", NEW, "-q")
    assert queried.stdout.split() == expected


def test_bestrefs_datasets_and_missing_results(server, client_cache):
    one = ids_of(server)[0]
    done = crds(server, client_cache, "bestrefs", "--datasets", one.lower(), "--new-context", NEW,
                "--old-context", OLD, "--print-new-references", check=False)
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr
    assert "Dumped 1 of 1 datasets" in done.stderr
    missing = crds(server, client_cache, "query_affected", "-x", "hst_0726.pmap", "-y", "hst_0727.pmap", check=False)
    # the client recognised the server's "No precomputed affected datasets results exist" error
    assert "Results for hst_0726.pmap --> hst_0727.pmap don't exist or are not yet complete" in missing.stderr


def test_query_affected_walks_the_history_from_its_first_context(server, client_cache, tmp_path):
    """History item 0 is the bootstrap hst.pmap: -i skips its missing results and carries on."""
    walked = crds(server, client_cache, "query_affected", "-i", "-x", "0", "-y", "2",
                  "--last-processed-file", str(tmp_path / "last_processed"))
    assert "No results for hst.pmap --> hst_0003.pmap ignoring and proceeding." in walked.stderr, walked.stderr[-2000:]
    assert "No results for hst_0003.pmap --> hst_0004.pmap ignoring and proceeding." in walked.stderr


def test_client_api_best_references_by_ids_keyed_as_asked(server, client_cache):
    """crds.client.api.get_best_references_by_ids answers for the id asked for, from its first member."""
    product = next(i for i in ids_of(server) if not i.split(":")[0].endswith("Q")).split(":")[0]
    first = next(i for i in ids_of(server) if i.startswith(product + ":"))
    code = ("import json, sys, crds; from crds.client import api; "
            "header = api.get_dataset_headers_by_id(sys.argv[1], [sys.argv[3]])[sys.argv[3]]; "
            "local = crds.getrecommendations(header, reftypes=['darkfile'], context=sys.argv[1], "
            "observatory='hst', fast=True); "
            "remote = api.get_best_references_by_ids(sys.argv[1], [sys.argv[2]], ['darkfile'], False); "
            "print(json.dumps([remote, local]))")
    done = subprocess.run([sys.executable, "-c", code, NEW, product.lower(), first],
                          env=server.client_env(client_cache), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    remote, local = json.loads(done.stdout.splitlines()[-1])
    assert remote == {product: [True, local]}
