"""The extended (ReDCaT) submission form, its published description and Submission History.

crds-protocol.md §7.3-7.4, server-behaviour.md §5.3, §15 and §16.2.  The
last test drives the real `crds.submit.Submission` API against a server
process of its own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request

import pytest
import yaml
from crds_server import testing
from crds_server.testing import error_message
from django.contrib.auth.models import User
from django.test import Client
from jpoll.models import Message
from jsonapi import live_server

from interactive import instruments, redcat
from interactive.models import RedcatSubmission, StoredResult
from interactive.tests.smtp_sink import STATUS
from interactive.tests.test_submission import BIAS, SubmissionTestCase

PROTOCOL_KEYS = ("deliverer", "other_email", "instrument", "file_type", "history_updated", "keywords_checked",
                 "descrip_updated", "useafter_matches", "compliance_verified", "ingest_files", "calpipe_version",
                 "replacement_files", "old_reference_files", "replacing_badfiles", "jira_issue",
                 "table_rows_changed", "modes_affected", "correctness_testing", "additional_considerations")
PUBLISHED_ATTRIBUTES = {"key", "label", "type", "required", "choices", "initial", "help_text"}
FALSE_TEXTS = ("False", "false", "FALSE", "0", "0.0", "F", "")


def answers(**fields) -> dict:
    """A complete, valid POST as the client builds it: every published key plus the batch fields."""
    return {"pmap_mode": "pmap_edit", "pmap_name": "hst_0729.pmap", "change_level": "SEVERE",
            "description": "ReDCaT biases", "creator": "acs Team", "auto_rename": "True",
            "compare_old_reference": "False", "deliverer": "Alice Ames", "other_email": "",
            "instrument": "acs", "file_type": "Bias", "history_updated": "True", "pedigree_updated": "False",
            "keywords_checked": "False", "descrip_updated": "True", "useafter_updated": "False",
            "useafter_matches": "N/A", "compliance_verified": "Yes", "ingest_files": "False",
            "etc_delivery": "False", "jwst_etc": "False", "calpipe_version": "yes, caldp 1.0",
            "replacement_files": "False", "old_reference_files": "", "replacing_badfiles": "N/A",
            "jira_issue": "REDCAT-25", "table_rows_changed": "", "modes_affected": "all WFC modes",
            "correctness_testing": "Certified and compared with the old biases", "additional_considerations": "",
            **fields}


class RedcatTests(SubmissionTestCase):
    def assert_refused_and_kept(self, response, *expected: str):
        """An error in div#error_message; no record, no catalog row or cache file, the upload kept."""
        self.assertEqual(response.status_code, 200)
        message = error_message(response)
        for text in expected:
            self.assertIn(text, message)
        self.assertFalse(RedcatSubmission.objects.exists())
        self.assertFalse(StoredResult.objects.exists())
        self.assert_nothing_added()
        self.assertTrue((self.ingest / BIAS).exists())

    def test_description_is_public_yaml_the_client_can_use(self):
        response = Client().get("/submission_form/redcat_description.yml")
        self.assertEqual(response.status_code, 200)
        published = yaml.safe_load(response.content)
        keys = [field["key"] for field in published]
        self.assertEqual(len(keys), len(set(keys)))
        self.assertTrue(set(PROTOCOL_KEYS) <= set(keys), set(PROTOCOL_KEYS) - set(keys))
        for field in published:
            self.assertLessEqual(set(field), PUBLISHED_ATTRIBUTES, field)
            self.assertIn(field["type"], ("CharField", "BooleanField", "TypedChoiceField"))
            self.assertIsInstance(field["required"], bool)
            self.assertIsInstance(field["label"], str)
            if "initial" in field and field["type"] != "CharField":
                self.assertIn(field["initial"], field["choices"])  # the client assigns it through its checks
            if field["type"] == "BooleanField":
                self.assertIs(field["required"], False)  # the client's required check would reject False
        instrument = next(field for field in published if field["key"] == "instrument")
        self.assertEqual(instrument["choices"], list(instruments.instruments()))
        # For HST, exactly the description the crds project's own tests use.
        self.assertEqual(published, yaml.safe_load((testing.test_data() / "rc_description.yaml").read_text()))

    def test_checkbox_values_follow_the_client_rule(self):
        for text in FALSE_TEXTS:
            form = redcat.RedcatForm(answers(history_updated=text))
            self.assertTrue(form.is_valid(), form.errors)
            self.assertIs(form.cleaned_data["history_updated"], False, text)
        for text in ("True", "true", "on", "1", "yes"):
            form = redcat.RedcatForm(answers(history_updated=text))
            self.assertTrue(form.is_valid(), form.errors)
            self.assertIs(form.cleaned_data["history_updated"], True, text)
        data = answers()
        del data["auto_rename"], data["ingest_files"]
        form = redcat.RedcatForm(data)
        self.assertTrue(form.is_valid(), form.errors)
        self.assertIs(form.cleaned_data["auto_rename"], True)  # left out: rename, as Batch Submit does
        self.assertIs(form.cleaned_data["ingest_files"], False)

    def test_access_rules(self):
        anonymous = Client()
        for url in ("/submission_form/redcat_submit/", "/submission_form/redcat_list/", "/submission_form/1/"):
            self.assertIn("/login/", anonymous.get(url)["Location"])
        self.assertIn("/login/", anonymous.post("/submission_form/redcat_submit/", answers())["Location"])
        User.objects.create_user("mallory", password="pw")
        outsider = self.login("mallory", "cos")
        response = outsider.get("/submission_form/redcat_submit/")
        self.assertEqual(response.status_code, 200)  # refusals are pages the crds client can read
        self.assertIn("file_submission", error_message(response))
        self.upload(BIAS)
        response = outsider.post("/submission_form/redcat_submit/", answers(instrument="cos"))
        self.assertEqual(response.status_code, 200)
        self.assertIn("file_submission", error_message(response))
        unlocked = self.login("alice", "none")
        response = unlocked.post("/submission_form/redcat_submit/", answers())
        self.assertEqual(response.status_code, 200)
        self.assertIn("instrument lock", error_message(response))
        self.assertFalse(RedcatSubmission.objects.exists())
        self.assert_nothing_added()
        # History is for logged-in users only, in or out of the group.
        self.assertEqual(outsider.get("/submission_form/redcat_list/").status_code, 200)
        self.assertEqual(outsider.get("/submission_form/999/").status_code, 404)

    def test_form_page_offers_every_published_field(self):
        client = self.login()
        page = client.get("/submission_form/redcat_submit/")
        self.assertEqual(page.status_code, 200)
        self.assertIn("csrftoken", page.cookies)  # the client reads the token from this very response
        self.assertEqual(error_message(page), "")
        for field in redcat.description():
            self.assertContains(page, f'name="{field["key"]}"')
        self.assertContains(page, '<option value="acs" selected>acs</option>', html=True)
        self.assertFalse(RedcatSubmission.objects.exists())  # no state change on GET

    def test_invalid_answers_are_refused_with_nothing_stored(self):
        self.upload(BIAS)
        client = self.login()
        data = answers()
        del data["deliverer"]
        self.assert_refused_and_kept(client.post("/submission_form/redcat_submit/", data),
                                     "deliverer: This field is required.")
        self.assert_refused_and_kept(client.post("/submission_form/redcat_submit/", answers(modes_affected="")),
                                     "modes_affected: This field is required.")
        self.assert_refused_and_kept(
            client.post("/submission_form/redcat_submit/", answers(useafter_matches="Maybe")),
            "useafter_matches: Select a valid choice.")
        self.assert_refused_and_kept(client.post("/submission_form/redcat_submit/", answers(instrument="hubble")),
                                     "instrument: Select a valid choice.")
        self.assert_refused_and_kept(
            client.post("/submission_form/redcat_submit/", answers(other_email="ops@example.org, not-an-address")),
            "other_email: 'not-an-address' is not a valid e-mail address.")
        self.assert_refused_and_kept(
            client.post("/submission_form/redcat_submit/", answers(correctness_testing="x" * 2001)),
            "correctness_testing: Ensure this value has at most 2000 characters (it has 2001).")
        self.assert_refused_and_kept(client.post("/submission_form/redcat_submit/", answers(file_type="bias\x07")),
                                     "file_type: Use plain text")
        self.assert_refused_and_kept(client.post("/submission_form/redcat_submit/", answers(description="<b>")),
                                     "description: Use up to 2000 letters")
        self.assert_refused_and_kept(client.post("/submission_form/redcat_submit/", answers(change_level="HUGE")),
                                     "change_level: Select a valid choice.")
        # The form keeps what was typed, so the person can correct it.
        page = client.post("/submission_form/redcat_submit/", answers(deliverer="Alice Ames", jira_issue="", x=1,
                                                                        useafter_matches="Maybe"))
        self.assertContains(page, 'value="Alice Ames"')
        self.assertContains(page, '<input type="checkbox" name="history_updated" value="True" '
                                  'id="id_history_updated" checked>', html=True)
        self.assertContains(page, '<input type="checkbox" name="pedigree_updated" value="True" '
                                  'id="id_pedigree_updated">', html=True)  # posted "False": unticked

    def test_instrument_must_be_the_locked_one(self):
        self.upload(BIAS)
        response = self.login().post("/submission_form/redcat_submit/", answers(instrument="cos"))
        self.assert_refused_and_kept(response, "Instrument Mismatch: Logged in for 'acs'.")

    def test_failed_submission_leaves_no_record(self):
        client = self.login()
        response = client.post("/submission_form/redcat_submit/", answers())
        self.assertEqual(error_message(response), "No input files were specified.")
        self.assertFalse(RedcatSubmission.objects.exists())
        self.upload(BIAS)
        response = client.post("/submission_form/redcat_submit/", answers(pmap_mode="pmap_text",
                                                                          pmap_text="hst_9999.pmap"))
        self.assert_refused_and_kept(response, "hst_9999.pmap")

    def test_submit_stores_the_answers_and_ends_ready(self):
        self.upload(BIAS)
        client = self.login()
        channel = client.get("/jpoll/open_channel/").json()
        response = client.post("/submission_form/redcat_submit/", answers(
            instrument="ACS", useafter_matches="yes", history_updated="True", ingest_files="F",
            other_email="ops@example.org, team@example.org"))
        self.assertEqual(response.status_code, 302, error_message(response))
        location = response["Location"]
        self.assertRegex(location, r"^/display_result/[0-9a-f-]{36}$")
        done = Message.objects.filter(channel__key=channel, type="done").get()
        self.assertEqual(done.data["status"], 0)
        self.assertTrue(done.data["result"].startswith("http") and done.data["result"].endswith(location))

        record = RedcatSubmission.objects.get()
        result = StoredResult.objects.get(name=location.rsplit("/", 1)[1])
        self.assertEqual(record.result_name, result.name)
        self.assertIsNotNone(record.published_date)
        self.assertGreaterEqual(record.published_date, record.created_date)
        self.assertEqual((record.user, record.deliverer, record.instrument, record.file_type, record.change_level),
                         ("alice", "Alice Ames", "acs", "Bias", "SEVERE"))
        self.assertEqual(record.answers["useafter_matches"], "Yes")  # the published choice's case
        self.assertIs(record.answers["history_updated"], True)
        self.assertIs(record.answers["ingest_files"], False)
        self.assertEqual(record.answers["other_email"], "ops@example.org, team@example.org")
        self.assertEqual(set(record.answers), {field["key"] for field in redcat.description()})
        official = result.parameters["new_file_map"][BIAS]
        self.assertEqual(self.record(official).state, "uploaded")
        self.assertEqual(result.parameters["description"], "ReDCaT biases")
        # STARTED and READY also go to the form's other_email addresses.
        self.assertEqual([message["Subject"] for _, message in self.sent()],
                         ["CRDS HST DJANGO STARTED Batch Submit by Alice Ames",
                          "CRDS HST DJANGO READY Batch Submit by Alice Ames"])
        for recipients, _ in self.sent():
            self.assertEqual(sorted(recipients), sorted(STATUS + ["alice@example.org", "ops@example.org",
                                                                  "team@example.org"]))

        history = client.get("/submission_form/redcat_list/")
        self.assertContains(history, f'href="/submission_form/{record.id}/"')
        self.assertContains(history, "Alice Ames")
        detail = client.get(f"/submission_form/{record.id}/")
        self.assertContains(detail, "ops@example.org, team@example.org")
        self.assertContains(detail, f'href="/display_result/{result.name}"')
        self.assertNotContains(Client().get(f"/submission_form/{record.id}/", follow=True), "ops@example.org")


SETUP_USER = """
from django.contrib.auth.models import Group, User
user = User.objects.create_user("alice", "alice@example.org", "secret", first_name="Alice", last_name="Ames")
user.groups.add(Group.objects.get_or_create(name="file_submission")[0])
"""

CLIENT_SCRIPT = """
import json, sys
from crds.submit import rc_submit
rc_submit.BASE_URLS["test"]["hst"] = sys.argv[1] + "/"   # never the STScI servers
submission = rc_submit.Submission("hst", "test")
for key, value in json.loads(sys.argv[2]).items():
    submission[key] = value
submission.add_file(sys.argv[3])
submission.validate()
outcome = submission.submit()
print("OUTCOME", json.dumps({"errors": outcome.error_count, "ready_url": outcome.ready_url}))
"""


@pytest.fixture(scope="module")
def redcat_server():
    """A server of our own: a READY submission spends names and leaves `uploaded` records behind."""
    with live_server.private(SETUP_USER) as started:
        yield started


def test_real_client_submission_api(redcat_server, tmp_path):
    server = redcat_server
    upload = tmp_path / BIAS
    shutil.copy(testing.test_data() / "hst" / BIAS, upload)
    client_cache = tmp_path / "client-cache"
    client_cache.mkdir()
    fields = {"deliverer": "Alice Ames", "other_email": "ops@example.org", "instrument": "ACS",
              "file_type": "Bias", "history_updated": True, "useafter_matches": "yes", "calpipe_version": "yes 1.0",
              "modes_affected": "all WFC modes", "correctness_testing": "certify", "description": "ReDCaT biases",
              "change_level": "moderate"}
    env = server.client_env(client_cache, CRDS_USERNAME="alice", MAST_API_TOKEN="secret")
    synced = subprocess.run([sys.executable, "-m", "crds.sync", "--contexts", "hst-edit"], env=env,
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert synced.returncode == 0, synced.stdout + synced.stderr  # the API certifies locally first
    ran = subprocess.run([sys.executable, "-c", CLIENT_SCRIPT, server.url, json.dumps(fields), str(upload)],
                         env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    assert "CRDS server error" not in output, output
    outcome = json.loads(output.split("OUTCOME", 1)[1].splitlines()[0])
    assert outcome["errors"] == 0, output
    assert outcome["ready_url"].startswith(server.url) and "/display_result/" in outcome["ready_url"], output

    stored = server.manage("shell", "-c", (
        "import json; from interactive.models import RedcatSubmission as R; "
        "r = R.objects.get(); print(json.dumps({'user': r.user, 'answers': r.answers, 'result': r.result_name, "
        "'level': r.change_level, 'published': bool(r.published_date)}))")).stdout
    record = json.loads(stored.strip().splitlines()[-1])
    assert record["result"] == outcome["ready_url"].rsplit("/", 1)[1]
    assert (record["user"], record["level"], record["published"]) == ("alice", "MODERATE", True)
    assert record["answers"]["instrument"] == "acs"
    assert record["answers"]["useafter_matches"] == "Yes"
    assert record["answers"]["history_updated"] is True and record["answers"]["ingest_files"] is False

    # The history is not public: an anonymous reader lands on the login page.
    with urllib.request.urlopen(f"{server.url}/submission_form/redcat_list/", timeout=60) as response:
        assert "/login/" in response.url
        assert "Alice Ames" not in response.read().decode()


def test_description_served_by_the_server_process(redcat_server):
    with urllib.request.urlopen(f"{redcat_server.url}/submission_form/redcat_description.yml",
                                timeout=60) as response:
        published = yaml.safe_load(response)
    assert [field["key"] for field in published] == [field["key"] for field in redcat.description()]
