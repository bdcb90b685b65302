"""get_system_versions on a JWST server: the CALVER rules match on META.OBSERVATION.DATE and
META.OBSERVATION.TIME separately, so the lookup must give both (crds-protocol.md §4.4).

The shared test cache holds the JWST rules but not the CALVER references; the test puts a JSON file
of its own under the name the rules select, in the private live server's file cache.
"""

from __future__ import annotations

import html
import json
import urllib.request
from pathlib import Path

import pytest
from crds_server import siteconfig

VERSIONS = {"CAL_VER": "0.13.0", "jwst": "0.13.0", "crds": "7.2.0"}


def rpc(server, method: str, *params) -> dict:
    body = json.dumps({"jsonrpc": "1.0", "method": method, "params": list(params), "id": 1}).encode()
    with urllib.request.urlopen(f"{server.url}/json/{method}/1/", body, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture
def calver_reference(crds_live_server_jwst):
    """jwst_system_calver_0010.json (what jwst_0526.pmap selects for 0.13.x) in the server's file cache."""
    if crds_live_server_jwst.root is None:
        pytest.skip("needs a private server's file cache")
    site = siteconfig.read_env_file(crds_live_server_jwst.root / "site.env")
    path = Path(site["CRDS_FILE_CACHE"]) / "references" / "jwst" / "jwst_system_calver_0010.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(VERSIONS))
    yield path
    path.unlink()


def test_system_versions_of_the_versions_context(crds_live_server_jwst, calver_reference):
    for context in ("null", "jwst_0526.pmap"):
        envelope = rpc(crds_live_server_jwst, "get_system_versions", "0.13.0", context)
        assert envelope["error"] is None, envelope["error"]
        assert envelope["result"] == VERSIONS


def test_unknown_version_is_a_clear_error(crds_live_server_jwst):
    envelope = rpc(crds_live_server_jwst, "get_system_versions", "99.1.0", "jwst_0526.pmap")
    assert envelope["result"] is None
    message = html.unescape(envelope["error"]["message"])
    assert "No system versions are defined in 'jwst_0526.pmap' for '99.1.0'" in message
