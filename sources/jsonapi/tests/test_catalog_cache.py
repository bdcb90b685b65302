"""The catalog generation: derived values are rebuilt after any catalog change (interactive.cache)."""

from django.db import transaction
from interactive import cache
from interactive.models import FileRecord


def test_memo_and_cached_follow_the_generation(db):
    builds = []
    cache.invalidate()
    assert cache.memo("test-memo", lambda: builds.append(1) or len(builds)) == 1
    assert cache.memo("test-memo", lambda: builds.append(1) or len(builds)) == 1
    assert cache.cached("test-cached", lambda: "first") == "first"
    cache.invalidate()
    assert cache.memo("test-memo", lambda: builds.append(1) or len(builds)) == 2
    assert cache.cached("test-cached", lambda: "second") == "second"


def test_saves_invalidate_now_and_again_at_commit(db, django_capture_on_commit_callbacks):
    before = cache.generation()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            record = FileRecord.objects.get(name="hst_0729.pmap")
            record.comment = "changed"
            record.save()
            during = cache.generation()
            record.save()
    assert during != before
    assert cache.generation() != during
    assert len(callbacks) == 1  # one commit-time invalidation however many saves


def test_distributable_index_excludes_pending_uploads(db):
    FileRecord.objects.create(name="zzzz9998z_bia.fits", type="reference", observatory="hst", state="uploaded")
    index = cache.distributable_index()
    assert "zzzz9998z_bia.fits" not in index
    assert index["hst_0729.pmap"][0] == "mapping"
    assert index["m4r1753rj_bia.fits"][1] is False  # known from metadata only


def test_without_a_working_cache_nothing_is_served_stale(db, monkeypatch):
    from django.core.cache.backends.dummy import DummyCache

    monkeypatch.setattr(cache, "cache", DummyCache("outage", {}))
    assert cache.generation() != cache.generation()
    values = iter(range(10))
    assert cache.memo("test-outage", lambda: next(values)) == 0
    assert cache.memo("test-outage", lambda: next(values)) == 1
