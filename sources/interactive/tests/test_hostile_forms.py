"""Every form of the site, each field in turn given a hostile value: an error page, never a 500.

The fields are read from the forms themselves (as a browser would submit them), so a field
added later is covered without changing this test.
"""

from __future__ import annotations

from html.parser import HTMLParser

from django.test import Client

from interactive.tests.page_support import server_failure
from interactive.tests.test_submission import SubmissionTestCase

FORM_PAGES = ("/certify/", "/set_default_context/", "/mark_bad/", "/batch_submit_references/", "/submit/mapping/",
              "/submit/reference/", "/delete/reference/", "/add_existing/reference/", "/create_contexts/",
              "/submission_form/redcat_submit/", "/bestrefs_explore/", "/difference/", "/recent_activity_input/",
              "/browse_db/")
HOSTILE = ("9" * 5000, "hst_0729.pmap\n", "\u00b2", "\u0661", "\x00", "../../../etc/passwd", "<script>x</script>",
           "a" * 100_000, '{"A": ' + "[" * 60_000 + "]" * 60_000 + "}")


class FormFields(HTMLParser):
    """(action, method, {name: default}) of each form on a page."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str]]] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append((attrs.get("action") or "", (attrs.get("method") or "get").lower(), {}))
        elif not self.forms or "name" not in attrs:
            if tag == "option" and self._select and self.forms:
                self.forms[-1][2].setdefault(self._select, attrs.get("value", ""))
        elif tag in ("input", "textarea"):
            if attrs.get("type") not in ("file", "submit", "button"):
                self.forms[-1][2].setdefault(attrs["name"], attrs.get("value") or "")
        elif tag == "select":
            self._select = attrs["name"]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def superuser_with_lock(test: SubmissionTestCase) -> Client:
    """The test's Alice as a superuser holding the ACS lock: every form and page is open to her."""
    test.alice.is_superuser = True
    test.alice.save()
    return test.login()


class HostileFormTests(SubmissionTestCase):
    def test_every_field_of_every_form(self):
        client = superuser_with_lock(self)
        tried = 0
        for page in FORM_PAGES:
            response = client.get(page)
            self.assertEqual(response.status_code, 200, page)
            parser = FormFields()
            parser.feed(response.content.decode())
            forms = [form for form in parser.forms if form[2]]
            self.assertTrue(forms, f"{page} has no form fields")
            for action, method, defaults in forms:
                url = action or page
                for field in defaults:
                    for value in HOSTILE:
                        data = {**defaults, field: value}
                        response = client.post(url, data) if method == "post" else client.get(url, data)
                        tried += 1
                        with self.subTest(page=page, field=field, value=value[:12]):
                            self.assertFalse(server_failure(response), response.status_code)
        self.assertGreater(tried, 100)
