"""The real `crds` client against a live JWST server: no calibration package installed, so the
client asks for the default context; an instrument type marked N/A resolves to "N/A".

Expectations are read from the shared cache's own files, never from the server under test.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from crds_server import testing

CRDS = str(Path(sys.executable).parent / "crds")
CONTEXT = "jwst_0541.pmap"


def shared(name: str) -> Path:
    return testing.test_cache() / "mappings" / "jwst" / name


def named(name: str) -> list[str]:
    """The mappings a mapping's selector names (as written in the file)."""
    return re.findall(r"'(jwst_\w+\.[pir]map)'", shared(name).read_text().split("selector", 1)[1])


def run(server, crds_path: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([CRDS, *args], env=server.client_env(crds_path), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def rpc(server, method: str, *params):
    body = json.dumps({"jsonrpc": "1.0", "method": method, "params": list(params), "id": 1}).encode()
    with urllib.request.urlopen(f"{server.url}/json/{method}/1/", body, timeout=60) as response:
        return json.loads(response.read())


def test_status_and_default_context(crds_live_server_jwst, tmp_path):
    out = run(crds_live_server_jwst, tmp_path, "list", "--status").stdout
    assert CONTEXT in out
    assert rpc(crds_live_server_jwst, "get_default_context", "jwst", "latest")["result"] == CONTEXT
    assert "Mismatch" in rpc(crds_live_server_jwst, "get_default_context", "hst", None)["error"]["message"]


def test_sync_contexts_fetches_every_named_mapping(crds_live_server_jwst, tmp_path):
    result = run(crds_live_server_jwst, tmp_path, "sync", "--contexts", CONTEXT, "--check-files")
    assert "0 errors" in result.stderr
    fetched = {path.name: path for path in (tmp_path / "mappings" / "jwst").iterdir()}
    imaps = named(CONTEXT)
    assert CONTEXT in fetched and set(imaps) <= set(fetched)
    for imap in imaps[:3]:
        assert set(named(imap)) <= set(fetched)
    for name, path in fetched.items():
        assert hashlib.sha1(path.read_bytes()).hexdigest() == hashlib.sha1(shared(name).read_bytes()).hexdigest()


def test_type_marked_na_resolves_to_na(crds_live_server_jwst):
    miri = next(name for name in named(CONTEXT) if name.startswith("jwst_miri_"))
    na_types = re.findall(r"'(\w[\w-]*)' : 'N/A'", shared(miri).read_text().split("selector", 1)[1])
    assert na_types
    for filekind in na_types[:3]:
        spec = f"jwst-miri-{filekind.lower()}-operational"
        assert rpc(crds_live_server_jwst, "get_context_by_date", spec, "jwst")["result"] == "N/A"
    assert rpc(crds_live_server_jwst, "get_context_by_date", "jwst-miri-operational", "jwst")["result"] == miri
