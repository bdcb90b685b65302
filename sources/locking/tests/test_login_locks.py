"""Login with an instrument lock, conflicts, logout, lock status, access decorators."""

import datetime

from crds_server.testing import error_message
from django.contrib.auth.models import Group, User
from django.http import HttpResponse
from django.test import Client, RequestFactory, TestCase, override_settings

from locking import access, service
from locking.models import Lock

# Password hashing dominates these tests' run time; the hasher is not what they test.
FAST_PASSWORDS = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])


def login(client, username, instrument="none", password="pw", next_url="/"):
    return client.post("/login/", {"username": username, "password": password, "instrument": instrument,
                                   "next": next_url})


@FAST_PASSWORDS
class LoginLockTests(TestCase):
    def setUp(self):
        self.alice = User.objects.create_user("alice", password="pw")
        self.bob = User.objects.create_user("bob", password="pw")

    def test_login_page_sets_csrf_cookie_and_offers_instruments(self):
        response = self.client.get("/login/")
        self.assertEqual(response.status_code, 200)
        self.assertIn("csrftoken", response.cookies)
        self.assertContains(response, '<option value="acs"')
        self.assertContains(response, '<option value="none"')
        self.assertEqual(error_message(response), "")

    def test_login_with_instrument_takes_the_lock(self):
        response = login(self.client, "alice", "acs")
        self.assertRedirects(response, "/", fetch_redirect_response=False)
        lock = Lock.objects.get(locked_object="instrument$acs")
        self.assertEqual((lock.user, lock.type, lock.name), ("alice", "instrument", "acs"))
        remaining = lock.expires_on - datetime.datetime.now()
        self.assertGreater(remaining, datetime.timedelta(hours=3, minutes=59))
        self.assertLessEqual(remaining, datetime.timedelta(hours=4))

    def test_login_with_none_takes_no_lock(self):
        self.assertEqual(login(self.client, "alice", "none").status_code, 302)
        self.assertFalse(Lock.objects.exists())

    def test_second_user_is_refused_and_logged_out(self):
        login(self.client, "alice", "acs")
        other = Client()
        response = login(other, "bob", "acs")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(error_message(response), "User 'alice' has already locked instrument 'acs'.")
        self.assertNotIn("_auth_user_id", other.session)
        self.assertEqual(Lock.objects.get().user, "alice")

    def test_same_user_relogin_keeps_the_same_lock(self):
        login(self.client, "alice", "acs")
        first = Lock.objects.get().lock_id
        self.assertEqual(login(Client(), "alice", "acs").status_code, 302)
        self.assertEqual(Lock.objects.get().lock_id, first)

    def test_login_for_another_instrument_releases_the_first(self):
        login(self.client, "alice", "acs")
        login(self.client, "alice", "wfc3")
        self.assertEqual(list(Lock.objects.values_list("name", flat=True)), ["wfc3"])

    def test_expired_lock_of_another_user_is_taken_over(self):
        login(self.client, "alice", "acs")
        Lock.objects.update(expires_on=datetime.datetime.now() - datetime.timedelta(seconds=1))
        self.assertEqual(login(Client(), "bob", "acs").status_code, 302)
        self.assertEqual(Lock.objects.get().user, "bob")

    def test_bad_password_is_reported_in_error_div(self):
        response = login(self.client, "alice", "acs", password="wrong")
        self.assertEqual(response.status_code, 200)
        self.assertIn("correct username and password", error_message(response))
        self.assertFalse(Lock.objects.exists())

    def test_unknown_instrument_is_a_form_error(self):
        response = login(self.client, "alice", "hubble")
        self.assertIn("Select a valid choice", error_message(response))
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_next_outside_the_site_goes_home(self):
        response = login(self.client, "alice", next_url="https://evil.example/")
        self.assertRedirects(response, "/", fetch_redirect_response=False)

    def test_logout_get_releases_locks_and_redirects_home(self):
        login(self.client, "alice", "acs")
        response = self.client.get("/logout/")
        self.assertRedirects(response, "/", fetch_redirect_response=False)
        self.assertFalse(Lock.objects.exists())
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_logout_in_one_session_drops_the_lock_for_all(self):
        login(self.client, "alice", "acs")
        other = Client()
        login(other, "alice", "acs")
        other.get("/logout/")
        self.assertIsNone(service.instrument_lock("alice"))

    def test_csrf_is_enforced_on_login_post(self):
        client = Client(enforce_csrf_checks=True)
        response = client.post("/login/", {"username": "alice", "password": "pw", "instrument": "acs"})
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Lock.objects.exists())
        token = client.get("/login/").cookies["csrftoken"].value
        response = client.post("/login/", {"username": "alice", "password": "pw", "instrument": "acs",
                                           "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 302)


@FAST_PASSWORDS
class SlidingExpiryTests(TestCase):
    def setUp(self):
        User.objects.create_user("alice", password="pw")
        login(self.client, "alice", "acs")
        self.soon = datetime.datetime.now() + datetime.timedelta(minutes=30)
        Lock.objects.update(expires_on=self.soon)

    def expires_on(self):
        return Lock.objects.get().expires_on

    def test_a_request_slides_the_expiry_to_four_hours(self):
        self.client.get("/login/")
        self.assertGreater(self.expires_on(), datetime.datetime.now() + datetime.timedelta(hours=3, minutes=59))

    def test_status_and_progress_polling_do_not_refresh(self):
        self.client.get("/lock_status/alice/")
        self.client.get("/lock_status/")
        self.client.get("/jpoll/open_channel/")
        self.assertEqual(self.expires_on(), self.soon)

    def test_an_expired_lock_is_not_revived(self):
        past = datetime.datetime.now() - datetime.timedelta(seconds=5)
        Lock.objects.update(expires_on=past)
        self.client.get("/login/")
        self.assertEqual(self.expires_on(), past)
        self.assertIsNone(service.instrument_lock("alice"))

    def test_anonymous_requests_refresh_nothing(self):
        Client().get("/login/")
        self.assertEqual(self.expires_on(), self.soon)


@FAST_PASSWORDS
class LockStatusTests(TestCase):
    def test_status_with_a_lock_is_anonymous_json(self):
        service.acquire_instrument("alice", "cos")
        response = Client().get("/lock_status/alice/")
        self.assertEqual(response["Content-Type"], "application/json")
        data = response.json()
        self.assertEqual(set(data), {"name", "user", "type", "status", "created_on", "is_expired", "time_remaining"})
        self.assertEqual((data["name"], data["user"], data["type"], data["status"], data["is_expired"]),
                         ("cos", "alice", "instrument", "ok", False))
        self.assertRegex(data["created_on"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        self.assertRegex(data["time_remaining"], r"^3:59:\d\d$|^4:00:00$")

    def test_status_without_a_lock(self):
        data = Client().get("/lock_status/carol/").json()
        self.assertEqual(data, {"name": "", "user": "carol", "type": "instrument", "status": "error",
                                "exception": "no lock found."})

    def test_status_of_an_expired_lock(self):
        service.acquire_instrument("alice", "cos")
        Lock.objects.update(expires_on=datetime.datetime.now() - datetime.timedelta(minutes=1))
        data = Client().get("/lock_status/alice/").json()
        self.assertEqual((data["is_expired"], data["time_remaining"]), (True, "0:00:00"))

    def test_status_without_user_uses_the_session_user(self):
        self.assertEqual(Client().get("/lock_status/").json()["status"], "error")
        User.objects.create_user("alice", password="pw")
        service.acquire_instrument("alice", "stis")
        client = Client()
        client.login(username="alice", password="pw")
        self.assertEqual(client.get("/lock_status/").json()["name"], "stis")

    def test_bad_user_name_is_a_json_error(self):
        response = Client().get("/lock_status/a%3Cb%3E/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "error")


class ServiceTests(TestCase):
    def test_one_holder_at_a_time(self):
        service.acquire("instrument", "acs", "alice", max_age=60)
        with self.assertRaises(service.ResourceLockedError) as caught:
            service.acquire("instrument", "acs", "bob", max_age=60)
        self.assertEqual(str(caught.exception), "User 'alice' has already locked instrument 'acs'.")

    def test_dollar_in_a_name_is_refused(self):
        with self.assertRaises(ValueError):
            service.acquire("instrument", "a$b", "alice")

    def test_never_expiring_lock(self):
        lock = service.acquire("context", "all", "alice", max_age=0)
        self.assertIsNone(lock.expires_on)
        self.assertEqual(service.clear_expired(), 0)

    def test_clear_expired_removes_only_expired_rows(self):
        service.acquire("instrument", "acs", "alice", max_age=60)
        service.acquire("instrument", "cos", "bob", max_age=60)
        Lock.objects.filter(name="acs").update(expires_on=datetime.datetime.now() - datetime.timedelta(seconds=1))
        self.assertEqual(service.clear_expired(), 1)
        self.assertEqual(list(Lock.objects.values_list("name", flat=True)), ["cos"])

    def test_celery_task_and_command_clear_expired(self):
        from io import StringIO

        from django.core.management import call_command

        from locking.tasks import clear_expired_locks

        service.acquire("instrument", "acs", "alice", max_age=60)
        Lock.objects.update(expires_on=datetime.datetime.now() - datetime.timedelta(seconds=1))
        self.assertEqual(clear_expired_locks.delay().get(), 1)
        service.acquire("instrument", "acs", "alice", max_age=60)
        Lock.objects.update(expires_on=datetime.datetime.now() - datetime.timedelta(seconds=1))
        out = StringIO()
        call_command("clear_expired_locks", stdout=out)
        self.assertIn("Cleared 1 expired lock", out.getvalue())
        self.assertFalse(Lock.objects.exists())

    def test_beat_schedule_runs_the_job(self):
        from django.conf import settings

        tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
        self.assertIn("locking.clear_expired_locks", tasks)


@FAST_PASSWORDS
class AccessDecoratorTests(TestCase):
    def setUp(self):
        self.factory = RequestFactory()
        self.plain = User.objects.create_user("plain", password="pw")
        self.submitter = User.objects.create_user("submitter", password="pw")
        self.submitter.groups.add(Group.objects.get(name="file_submission"))
        self.root = User.objects.create_superuser("root", password="pw")

    def call(self, view, user):
        request = self.factory.get("/x/")
        request.user = user
        request.session = {}
        return view(request)

    def test_groups_are_created_by_migration(self):
        self.assertTrue(Group.objects.filter(name="edit_context_history").exists())

    def test_group_required(self):
        view = access.group_required("file_submission")(lambda request: HttpResponse("ok"))
        refused = self.call(view, self.plain)
        self.assertEqual((refused.status_code, error_message(refused.content.decode())),
                         (200, "You must be a member of group 'file_submission' to use this page."))
        self.assertEqual(self.call(view, self.submitter).content, b"ok")
        self.assertEqual(self.call(view, self.root).status_code, 200)

    def test_instrument_lock_required(self):
        view = access.instrument_lock_required(lambda request: HttpResponse(str(request.instrument_lock)))
        refused = self.call(view, self.submitter)
        self.assertEqual(refused.status_code, 200)  # the crds client reads the reason only from a 200 page
        self.assertIn("instrument lock", error_message(refused.content.decode()))
        service.acquire_instrument("submitter", "acs")
        response = self.call(view, self.submitter)
        self.assertEqual(response.status_code, 200)
        self.assertIn(b"instrument - acs - submitter", response.content)
        self.assertEqual(self.call(view, self.root).status_code, 200)  # superusers may work unlocked

    def test_anonymous_is_sent_to_login(self):
        from django.contrib.auth.models import AnonymousUser

        view = access.group_required("file_submission")(lambda request: HttpResponse("ok"))
        response = self.call(view, AnonymousUser())
        self.assertEqual(response.status_code, 302)
        self.assertIn("/login/", response["Location"])
