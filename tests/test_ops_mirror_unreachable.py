"""tools/mirror_server changes nothing when the source server does not answer."""

from __future__ import annotations

import pytest
from jsonapi.live_server import free_port

from tests.ops_support import make_root, remove_root, tiny_rules_cache, tree


@pytest.fixture
def servers(tmp_path):
    source, target = make_root(tiny_rules_cache(tmp_path / "cache")), make_root(None)
    yield source, target
    remove_root(source)
    remove_root(target)


def test_unreachable_source_changes_nothing(servers):
    source, target = servers
    assert source.tool("backup_server").returncode == 0
    before = target.snapshot(), tree(target.cache)
    url = f"http://127.0.0.1:{free_port()}"
    result = target.tool("mirror_server", "hst", "django", url, "--backup", str(source.backups / "latest"))
    assert result.returncode == 1
    assert f"Mirror failed: Cannot reach the CRDS server at {url}" in result.stderr
    assert "Nothing was changed." in result.stderr and "Traceback" not in result.stderr
    assert (target.snapshot(), tree(target.cache)) == before
