"""monitor_reprocessing: forward changes computed, reversions ignored, offline respected."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from interactive import contexts

from reprocessing.models import Computation
from reprocessing.tests.conftest import NEW, OLD


@pytest.fixture
def offline_flag(settings, reprocessing_root):
    flag = reprocessing_root.parent / "server_offline"
    settings.CRDS_OFFLINE_FLAG = str(flag)
    return flag


def run(capsys) -> str:
    call_command("monitor_reprocessing")
    return capsys.readouterr().out.strip()


def test_forward_change_is_computed_once(catalog, reprocessing_root, offline_flag, capsys):
    contexts.set_pointer("latest", OLD)
    assert run(capsys) == f"first run: recorded {OLD}"
    assert (reprocessing_root / "old_context.txt").read_text().strip() == OLD
    assert run(capsys) == f"no change: {OLD}"
    contexts.set_pointer("latest", NEW)
    assert run(capsys).startswith("computation ")
    comp = Computation.objects.get()
    assert (comp.old_context, comp.new_context, comp.state) == (OLD, NEW, "done")
    assert list(reprocessing_root.glob("*_0728_0729/bestrefs_err_truncated.txt.gz"))
    assert run(capsys) == f"no change: {NEW}"
    assert Computation.objects.count() == 1


def test_reversion_is_recorded_but_not_computed(catalog, reprocessing_root, offline_flag, capsys):
    (reprocessing_root / "old_context.txt").write_text(NEW + "\n")
    contexts.set_pointer("latest", OLD)
    assert run(capsys) == f"reversion {NEW} --> {OLD} ignored"
    assert (reprocessing_root / "old_context.txt").read_text().strip() == OLD
    assert Computation.objects.count() == 0


def test_offline_server_does_nothing(catalog, reprocessing_root, offline_flag, capsys):
    (reprocessing_root / "old_context.txt").write_text(OLD + "\n")
    contexts.set_pointer("latest", NEW)
    offline_flag.write_text("backup running\n")
    assert run(capsys).startswith("server offline")
    assert (reprocessing_root / "old_context.txt").read_text().strip() == OLD
    assert Computation.objects.count() == 0
    offline_flag.unlink()
    assert run(capsys).startswith("computation ")  # hand-edited old_context.txt re-triggers too
