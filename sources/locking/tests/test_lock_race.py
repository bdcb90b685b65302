"""Concurrent logins for one instrument against a running server: exactly one user gets the lock."""

from concurrent.futures import ThreadPoolExecutor

from crds.core.exceptions import CrdsWebError
from crds.submit import web

USERS = [f"racer_{i}" for i in range(4)]


def test_one_winner_among_concurrent_logins(crds_live_server):
    crds_live_server.manage("shell", "-c", (
        "from django.contrib.auth.models import User\n"
        f"for name in {USERS!r}:\n"
        "    User.objects.filter(username=name).delete()\n"
        "    User.objects.create_user(name, password=name)\n"))

    def login(user):
        conn = web.CrdsDjangoConnection(locked_instrument="nicmos", username=user, password=user,
                                        base_url=crds_live_server.url)
        try:
            conn.login()
        except CrdsWebError:
            return None
        return user

    with ThreadPoolExecutor(len(USERS)) as pool:
        winners = [user for user in pool.map(login, USERS) if user]
    assert len(winners) == 1, winners
    anonymous = web.CrdsDjangoConnection(username="x", password="x", base_url=crds_live_server.url)
    held = [anonymous.get(f"/lock_status/{user}/").json() for user in USERS]
    assert [s["user"] for s in held if s["status"] == "ok"] == winners
    assert held[USERS.index(winners[0])]["name"] == "nicmos"
