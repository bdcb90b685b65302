"""monitor_reprocessing: forward changes computed, reversions ignored, offline respected."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
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


def test_change_not_computed_while_the_archive_is_down_is_computed_next_pass(catalog, reprocessing_root, settings,
                                                                            offline_flag, capsys):
    (reprocessing_root / "old_context.txt").write_text(OLD + "\n")
    contexts.set_pointer("latest", NEW)
    settings.CRDS_DATASET_SOURCE = "reprocessing.tests.flaky_source.ArchiveDownSource"
    with pytest.raises(CommandError) as failed:
        run(capsys)
    assert str(failed.value) == (
        f"computation {OLD} --> {NEW} not started (ConnectionError: archive parameter service unavailable "
        f"(injected fault)); {OLD} kept as the last context seen, the next pass tries again")
    assert (reprocessing_root / "old_context.txt").read_text().strip() == OLD
    assert Computation.objects.count() == 0
    assert not [p for p in reprocessing_root.iterdir() if p.is_dir()]

    settings.CRDS_DATASET_SOURCE = "reprocessing.sources.DatabaseSource"
    assert run(capsys).startswith(f"computation {Computation.objects.get().id} started for {OLD} --> {NEW}")
    assert Computation.objects.get().state == "done"
    assert (reprocessing_root / "old_context.txt").read_text().strip() == NEW
    assert list(reprocessing_root.glob("*_0728_0729/bestrefs_err_truncated.txt.gz"))
    assert run(capsys) == f"no change: {NEW}"


def test_change_taken_by_another_pass_meanwhile_is_computed_once(catalog, reprocessing_root, settings,
                                                                 offline_flag, capsys):
    (reprocessing_root / "old_context.txt").write_text(OLD + "\n")
    contexts.set_pointer("latest", NEW)
    settings.CRDS_DATASET_SOURCE = "reprocessing.tests.flaky_source.OvertakenSource"
    assert run(capsys) == f"{OLD} --> {NEW} already taken by another pass: nothing done"
    comp = Computation.objects.get()  # the other pass's
    assert (comp.old_context, comp.new_context, comp.state) == (OLD, NEW, "done")
    assert len(list(reprocessing_root.glob("*_0728_0729"))) == 1
    assert (reprocessing_root / "old_context.txt").read_text().strip() == NEW


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


def test_a_flag_left_by_a_killed_backup_does_not_stop_the_monitor(catalog, reprocessing_root, offline_flag, capsys):
    """The flag names its process; once that process is gone, the flag is stale and is removed."""
    import socket
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    (reprocessing_root / "old_context.txt").write_text(OLD + "\n")
    contexts.set_pointer("latest", NEW)
    offline_flag.write_text(f"backup since 2026-11-30 03:05:00 (pid {gone.pid} on {socket.gethostname()})\n")
    assert run(capsys).startswith("computation ")
    assert not offline_flag.exists()


def set_latest(context: str, callbacks) -> None:
    """Set Context as the operator's page does; the on-commit work runs when the transaction commits."""
    from interactive import set_context

    with callbacks(execute=True) as run:
        set_context.set_context("latest", context, "Reprocessing trigger test", "operator")
    assert len(run) == 1


def test_set_context_computes_forward_changes_at_once(catalog, reprocessing_root, offline_flag, capsys,
                                                      django_capture_on_commit_callbacks):
    contexts.set_pointer("latest", OLD)  # before any monitor pass: no old_context.txt yet
    set_latest(NEW, django_capture_on_commit_callbacks)
    comp = Computation.objects.get()  # the replaced context stood in for the missing old_context.txt
    assert (comp.old_context, comp.new_context, comp.state, comp.status) == (OLD, NEW, "done", 0)
    assert (reprocessing_root / "old_context.txt").read_text().strip() == NEW
    assert run(capsys) == f"no change: {NEW}"  # the scheduled pass finds nothing left to do

    set_latest(OLD, django_capture_on_commit_callbacks)  # a reversion: recorded, not computed
    assert Computation.objects.count() == 1
    assert (reprocessing_root / "old_context.txt").read_text().strip() == OLD
    set_latest(NEW, django_capture_on_commit_callbacks)
    assert Computation.objects.count() == 2 and Computation.objects.first().state == "done"
    assert run(capsys) == f"no change: {NEW}"


def test_set_context_while_offline_leaves_the_change_to_the_monitor(catalog, reprocessing_root, offline_flag,
                                                                    capsys, django_capture_on_commit_callbacks):
    (reprocessing_root / "old_context.txt").write_text(OLD + "\n")
    contexts.set_pointer("latest", OLD)
    offline_flag.write_text("backup running\n")
    set_latest(NEW, django_capture_on_commit_callbacks)
    assert Computation.objects.count() == 0
    assert (reprocessing_root / "old_context.txt").read_text().strip() == OLD
    offline_flag.unlink()
    assert run(capsys).startswith(f"computation {Computation.objects.get().id} started for {OLD} --> {NEW}")
    assert Computation.objects.get().state == "done"


def test_set_context_rolled_back_computes_nothing(catalog, reprocessing_root, offline_flag,
                                                  django_capture_on_commit_callbacks):
    from django.db import transaction
    from interactive import set_context

    contexts.set_pointer("latest", OLD)
    with django_capture_on_commit_callbacks(execute=True) as run_callbacks:
        try:
            with transaction.atomic():
                set_context.set_context("latest", NEW, "Rolled back", "operator")
                raise RuntimeError("a later step of the same request failed")
        except RuntimeError:
            pass
    assert run_callbacks == [] and Computation.objects.count() == 0
    assert contexts.get_pointer("latest") == OLD
    assert not (reprocessing_root / "old_context.txt").exists()
