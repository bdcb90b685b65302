"""Confirms at the same moment, against a real server process (§5.5, defects §16.5 and §16.9).

Two users holding locks on different instruments confirm together: the two
new pmaps are consecutive and the later one carries both changes.  A
double-clicked confirm confirms once.  One user confirming two submissions
at once (two tabs, two `crds submit --autoconfirm`) chains too: the context
lock is not re-entered by its holder.
"""

from __future__ import annotations

import re
import shutil
import threading

import pytest
import requests
from crds_server import testing
from crds_server.testing import error_message
from jsonapi import live_server

SETUP_USERS = """
from django.contrib.auth.models import Group, User
group = Group.objects.get_or_create(name="file_submission")[0]
for name in ("alice", "bob", "carol"):
    User.objects.create_user(name, f"{name}@example.org", "secret").groups.add(group)
"""


@pytest.fixture(scope="module")
def server():
    started = live_server.start(testing.test_cache())
    try:
        started.manage("shell", "-c", SETUP_USERS)
        yield started
    finally:
        live_server.stop(started)


class Submitter:
    def __init__(self, server, user: str, instrument: str):
        self.server, self.user, self.instrument = server, user, instrument
        self.session = requests.Session()
        self.session.headers["Referer"] = server.url
        self.login()

    def token(self, path: str) -> str:
        return self.session.get(self.server.url + path, timeout=60).cookies["csrftoken"]

    def login(self) -> None:
        response = self.session.post(self.server.url + "/login/", data={
            "username": self.user, "password": "secret", "instrument": self.instrument, "next": "/",
            "csrfmiddlewaretoken": self.token("/login/")}, timeout=60)
        assert response.ok and not error_message(response), error_message(response)

    def submit(self, filename: str) -> str:
        ingest = self.server.root / "server_files" / "ingest" / self.user
        ingest.mkdir(parents=True, exist_ok=True)
        shutil.copy(testing.test_data() / "hst" / filename, ingest / filename)
        response = self.session.post(self.server.url + "/batch_submit_references/", data={
            "pmap_mode": "pmap_edit", "description": f"{filename} by {self.user}", "change_level": "SEVERE",
            "auto_rename": "True", "compare_old_reference": "False",
            "csrfmiddlewaretoken": self.token("/batch_submit_references/")}, timeout=600)
        assert response.ok and not error_message(response), error_message(response)
        assert re.search(r"/display_result/[0-9a-f-]{36}$", response.url), response.url
        return response.url.rsplit("/", 1)[1]

    def confirm(self, result_id: str, token: str) -> requests.Response:
        return self.session.post(self.server.url + "/submit_confirm/", data={
            "results_id": result_id, "button": "confirm", "csrfmiddlewaretoken": token}, timeout=600)


def run_together(*calls):
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def imap_of(server, pmap: str, instrument: str) -> str:
    text = (server.root / "file_cache" / "mappings" / "hst" / pmap).read_text()
    return re.search(rf"'{instrument.upper()}' : '([^']+)'", text).group(1)


def derived_from(server, mapping: str) -> str:
    text = (server.root / "file_cache" / "mappings" / "hst" / mapping).read_text()
    return re.search(r"'derived_from' : '([^']+)'", text).group(1)


def test_two_instruments_confirming_at_once_chain_and_a_double_click_confirms_once(server):
    alice, bob = Submitter(server, "alice", "acs"), Submitter(server, "bob", "cos")
    alice_result = alice.submit("hst_acs_biasfile_0001.fits")
    bob_result = bob.submit("s7g1700gl_dead_good_xsum.fits")
    tokens = (alice.token(f"/display_result/{alice_result}"), bob.token(f"/display_result/{bob_result}"))
    replies = run_together(lambda: alice.confirm(alice_result, tokens[0]), lambda: bob.confirm(bob_result, tokens[1]))
    for reply in replies:
        assert reply.status_code == 200 and not error_message(reply), error_message(reply)
    pmaps = sorted(re.search(r"hst_07\d\d\.pmap(?=</a>)", r.text).group(0) for r in replies)
    assert pmaps == ["hst_0730.pmap", "hst_0731.pmap"]
    # The later pmap carries both deliveries: neither instrument's change was dropped.
    assert imap_of(server, "hst_0731.pmap", "acs") != imap_of(server, "hst_0729.pmap", "acs")
    assert imap_of(server, "hst_0731.pmap", "cos") != imap_of(server, "hst_0729.pmap", "cos")

    alice.login()  # confirming logged her out
    again = alice.submit("hst_acs_biasfile_0002.fits")
    token = alice.token(f"/display_result/{again}")
    first, second = run_together(lambda: alice.confirm(again, token), lambda: alice.confirm(again, token))
    errors = sorted(error_message(r) for r in (first, second))
    assert errors[0] == "", errors
    assert errors[1] in ("This submission was already confirmed or cancelled.",
                         "You must log in with an instrument lock to use this page; your lock is missing or "
                         "has expired."), errors
    pmaps = sorted(p.name for p in (server.root / "file_cache" / "mappings" / "hst").glob("hst_07[3-9]?.pmap"))
    assert pmaps == ["hst_0730.pmap", "hst_0731.pmap", "hst_0732.pmap"]


def test_one_user_confirming_two_submissions_at_once_chains(server):
    carol = Submitter(server, "carol", "cos")
    ingest = server.root / "server_files" / "ingest" / "carol"
    first = carol.submit("s7g1700hl_dead.fits")
    (ingest / "s7g1700hl_dead.fits").unlink()  # the second submission is of the other file only
    second = carol.submit("s7g1700gl_dead_overlap.fits")
    token = carol.token(f"/display_result/{first}")
    replies = run_together(lambda: carol.confirm(first, token), lambda: carol.confirm(second, token))
    for reply in replies:
        assert reply.status_code == 200 and not error_message(reply), error_message(reply)
    older, newer = sorted(re.search(r"hst_07\d\d\.pmap(?=</a>)", r.text).group(0) for r in replies)
    # The second confirm waited for the first one's context lock and derived from its pmap.
    assert derived_from(server, newer) == older
    assert derived_from(server, imap_of(server, newer, "cos")) == imap_of(server, older, "cos")
