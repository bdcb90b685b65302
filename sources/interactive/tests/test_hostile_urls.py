"""Every URL that takes a name or a number, given hostile ones: a clear refusal, never a 500.

Companion of test_hostile_forms (the forms' fields) and jsonapi's test_hostile_values (the
JSON-RPC parameters); the values are the same kind: trailing newlines, digits int() refuses,
NUL bytes, parent directories, markup and lengths beyond any name.  Asked anonymously (GET) and
as a superuser holding a lock (GET and POST), so the views behind the login are reached too.
"""

from __future__ import annotations

from urllib.parse import quote

from django.test import Client

from interactive.tests.page_support import PageTestCase, server_failure
from interactive.tests.test_hostile_forms import superuser_with_lock
from interactive.tests.test_submission import SubmissionTestCase

HOSTILE = ("9" * 5000, "hst_0729.pmap\n", "\u00b2", "\u0661", "\x00", "..", "%2e%2e", "hst_0729.pmap%00",
           "<script>x</script>", "a" * 3000, " ")
URLS = ("/browse/{}", "/uses/{}", "/context_table/{}", "/context_table/hst_0729.pmap/{}", "/context_table/{}/1",
        "/difference/{}/hst_0729.pmap/", "/difference/hst_0728.pmap/{}/", "/docs/{}/", "/display_result/{}",
        "/authenticated_result/{}", "/display_all_contexts/?page={}", "/get/{}", "/unchecked_get/mappings/hst/{}",
        "/unchecked_get/references/hst/{}", "/unchecked_get/config/hst/{}", "/lock_status/{}/",
        "/submission_form/{}/", "/browse_db/?instrument={}", "/recent_activity_query/?filename={}",
        "/jpoll/pull_messages/{}/0/", "/jpoll/pull_messages/0b5e3f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b/{}/",
        "/monitor/{}/", "/upload/delete/{}", "/bestrefs_explore_compute/?context={}", "/stats/?days={}",
        "/reprocessing/{}/progress/", "/reprocessing/{}/affected_ids.txt", "/set_default_context/?context={}")


def refusals_that_failed(client: Client, methods: tuple[str, ...]) -> list[tuple[str, str, int]]:
    failures = []
    for pattern in URLS:
        for value in HOSTILE:
            url = pattern.format(quote(value, safe="%"))
            for method in methods:
                response = getattr(client, method)(url)
                if server_failure(response):
                    failures.append((method, url[:80], response.status_code))
    return failures


class AnonymousHostileUrlTests(PageTestCase):
    def test_hostile_names_and_numbers(self):
        self.assertEqual(refusals_that_failed(self.client, ("get",)), [])
        self.assertEqual(self.client.get("/browse/hst_0729.pmap").status_code, 200)


class LoggedInHostileUrlTests(SubmissionTestCase):
    def test_hostile_names_and_numbers(self):
        client = superuser_with_lock(self)
        self.assertEqual(refusals_that_failed(client, ("get", "post")), [])
        self.assertEqual(client.get("/lock_status/alice/").status_code, 200)
