"""The URL prefix (e.g. /hst) and slash collapsing at the WSGI entry that Django's server and Apache share.

End to end, test_scripts_embedded and test_production_stack check the same with
runserver and Apache; here each case of PrefixMount is checked directly.
"""

import re
import wsgiref.util

import pytest
from crds_server.middleware import PrefixMount
from django.test import override_settings
from django.urls import set_script_prefix


def _inner(environ, start_response):
    """Records what the application behind the mount sees."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}".encode()]


def _call(app, path, script_name=""):
    environ = {"PATH_INFO": path, "SCRIPT_NAME": script_name}
    wsgiref.util.setup_testing_defaults(environ)
    environ["PATH_INFO"], environ["SCRIPT_NAME"] = path, script_name
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = status, dict(headers)

    answer["body"] = b"".join(app(environ, start_response)).decode()
    return answer


@pytest.mark.parametrize("path, seen", [
    ("/hst/", "/hst|/"),
    ("/hst", "/hst|/"),
    ("/hst/json/", "/hst|/json/"),
    ("//hst//login/", "/hst|/login/"),
    ("/hst/hst_0001.pmap", "/hst|/hst_0001.pmap"),
])
def test_paths_under_the_prefix_reach_the_application_without_it(path, seen):
    assert _call(PrefixMount(_inner, "/hst"), path)["body"] == seen


def test_root_redirects_to_the_prefix_and_other_paths_are_not_found():
    app = PrefixMount(_inner, "/hst/")
    root = _call(app, "/")
    assert root["status"] == "302 Found" and root["headers"]["Location"] == "/hst/"
    other = _call(app, "/hstx/")
    assert other["status"] == "404 Not Found"
    assert other["body"] == "Not found: this CRDS server is at /hst/\n"


def test_apache_mount_passes_through():
    """Under WSGIScriptAlias /hst, SCRIPT_NAME already carries the prefix."""
    assert _call(PrefixMount(_inner, "/hst"), "/hst_0001.pmap", script_name="/hst")["body"] == "/hst|/hst_0001.pmap"


def test_without_prefix_nothing_changes():
    assert _call(PrefixMount(_inner, ""), "//a//b")["body"] == "|//a//b"


@pytest.mark.django_db
def test_links_carry_the_prefix(client):
    """WSGIHandler sets the script prefix from FORCE_SCRIPT_NAME per request; the test client does not."""
    with override_settings(FORCE_SCRIPT_NAME="/hst", CRDS_URL_PREFIX="/hst", STATIC_URL="/hst/static/"):
        set_script_prefix("/hst")
        try:
            response = client.get("/")
        finally:
            set_script_prefix("/")
    assert response.status_code == 200
    links = re.findall(r'(?:href|src)="(/[^"]*)"', response.content.decode())
    assert links and all(link.startswith("/hst/") for link in links), links


@pytest.mark.django_db
def test_doubled_slashes_resolve(client):
    assert client.get("//").status_code == 200
