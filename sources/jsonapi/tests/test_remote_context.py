"""Remote contexts: operator-registered keys, push_remote_context and get_remote_context (§4.2)."""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from interactive.models import RemoteContext


def add(name: str) -> str:
    out = StringIO()
    call_command("remote_context", "add", name, stdout=out)
    return out.getvalue().split()[-1]


def test_operator_command_adds_lists_and_removes(db):
    key = add("hst-ops-pipeline")
    assert RemoteContext.objects.get(name="hst-ops-pipeline").key == key
    out = StringIO()
    call_command("remote_context", "list", stdout=out)
    assert "hst-ops-pipeline" in out.getvalue() and key not in out.getvalue()
    with pytest.raises(CommandError, match="already registered"):
        add("hst-ops-pipeline")
    with pytest.raises(CommandError, match="Invalid remote cache name"):
        add("bad name!")
    call_command("remote_context", "remove", "hst-ops-pipeline", stdout=StringIO())
    assert not RemoteContext.objects.exists()
    with pytest.raises(CommandError, match="No remote cache named"):
        call_command("remote_context", "remove", "hst-ops-pipeline")


@pytest.mark.parametrize("kind", ["latest", "operational"])
def test_push_then_get(rpc, kind):
    key = add("hst-ops-pipeline")
    assert "has not pushed a context yet" in rpc.error("get_remote_context", "hst", "hst-ops-pipeline")
    assert rpc("push_remote_context", "hst", kind, key, "hst_0728.pmap") is None
    assert rpc("get_remote_context", "hst", "hst-ops-pipeline") == "hst_0728.pmap"
    assert rpc("push_remote_context", "hst", kind, key, "hst_0729.pmap") is None
    assert rpc("get_remote_context", None, "hst-ops-pipeline") == "hst_0729.pmap"
    log = (settings.CRDS_ROOT / "server_logs" / "meta_events.log").read_text()
    assert "remote context 'hst-ops-pipeline' changed from 'hst_0728.pmap' to 'hst_0729.pmap'" in log


def test_bad_pushes_change_nothing(rpc):
    key = add("hst-ops-pipeline")
    rpc("push_remote_context", "hst", "latest", key, "hst_0728.pmap")
    for params, message in [
        (["hst", "latest", "0" * 32, "hst_0729.pmap"], "Unknown remote context key"),
        (["hst", "latest", "bad key!", "hst_0729.pmap"], "Unknown remote context key"),
        (["hst", "edit", key, "hst_0729.pmap"], "Unknown remote context kind 'edit'"),
        (["hst", "latest", key, "hst_9999.pmap"], "is not known to CRDS"),
        (["hst", "latest", key, "hst_acs_0421.imap"], "give a .pmap name"),
        (["hst", "latest", key, "hst_0729.pmap\n"], "give a .pmap name"),
        (["hst", "latest", key + "\n", "hst_0729.pmap"], "Unknown remote context key"),
        (["jwst", "latest", key, "hst_0729.pmap"], "Mismatch"),
    ]:
        assert message in rpc.error("push_remote_context", *params), params
    assert rpc("get_remote_context", "hst", "hst-ops-pipeline") == "hst_0728.pmap"
    assert "Unknown remote cache 'nobody'" in rpc.error("get_remote_context", "hst", "nobody")
    assert "Invalid remote cache name" in rpc.error("get_remote_context", "hst", "<x>")
