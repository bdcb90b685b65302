"""The real `crds` client's tests against the production stack (Apache + mod_wsgi, MariaDB, memcached).

A copy of the checkout is installed as hst dev, loaded with ./init --from-cache from the
shared HST test cache plus the references the client tests download, and started with
./run. `./runtests --live` then moves it to its backup port and runs
sources/jsonapi/tests/test_crds_client.py (sync, bestrefs, list, getreferences in local
and remote mode, push-context) through the real client against it, as an operator's
self-test would. The JSON-RPC calls run in Apache's own workers, the downloads in the
WSGI daemons and Apache (servers/httpd.conf).
"""

import re

import pytest

from conftest import make_copy, remove_copy


@pytest.fixture(scope="module")
def production():
    from crds_server import testing
    from jsonapi import live_server

    copy = make_copy()
    try:
        copy.write_production_config("hst", "dev")
        copy.run("./install", "hst", "dev", check=True, timeout=600)
        extra = [testing.test_data() / "hst" / name for name in live_server.EXTRA_REFERENCES]
        cache = live_server.composite_cache(copy.root, testing.test_cache(), extra)
        copy.run("./init", "--from-cache", str(cache), check=True, timeout=600)
        copy.run("./run", check=True, timeout=300)
        yield copy
    finally:
        remove_copy(copy)


def test_crds_client_tests_pass_against_the_production_stack(production):
    from crds_server import testing

    result = production.run("./runtests", "--live", "-q", timeout=900,
                            env={"CRDS_SHARED_DATA": str(testing.shared_data())})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    counts = re.search(r"(\d+) passed", result.stdout)
    assert counts and int(counts.group(1)) >= 13, result.stdout[-3000:]
    access_log = (production.root / "var/hst/dev/server/logs/access_log").read_text()
    assert "POST /json/get_best_references/" in access_log  # the client went through this Apache
    assert "GET /unchecked_get/references/hst/s7g1700gl_dead.fits" in access_log
