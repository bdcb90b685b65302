"""Fixtures of the reprocessing tests: the HST rules of the shared test cache and a synthetic catalog."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SHARED_CACHE = Path(os.environ.get("CRDS_TEST_CACHE", Path(__file__).resolve().parents[4] / "shared" / "data"
                                   / "crds-cache-test"))
OLD, NEW = "hst_0728.pmap", "hst_0729.pmap"  # hst_0729 changes wfc3 darkfile and drkcfile


@pytest.fixture
def rules(monkeypatch):
    """The crds library reads rules from the shared HST test cache (read-only)."""
    if not (SHARED_CACHE / "mappings" / "hst" / NEW).exists():
        pytest.fail(f"HST test cache not found at {SHARED_CACHE}")
    monkeypatch.setenv("CRDS_PATH", str(SHARED_CACHE))
    return SHARED_CACHE


@pytest.fixture
def reprocessing_root(settings, tmp_path):
    """A private $CRDS so outputs and old_context.txt never leak between tests."""
    settings.CRDS_ROOT = tmp_path
    settings.CRDS_SERVER_DIR = tmp_path / "server"
    (tmp_path / "monitor_reprocessing").mkdir()
    return tmp_path / "monitor_reprocessing"


def synthetic_rows(count: int, instrument: str = "wfc3", seed: int = 7) -> list[tuple[str, dict]]:
    from reprocessing import synthetic

    return list(synthetic.generate(NEW, instrument, count, seed=seed))


@pytest.fixture
def catalog(db, rules):
    """600 synthetic WFC3 datasets and 100 COS datasets (COS is unaffected by hst_0728 → hst_0729)."""
    from reprocessing import loader

    rows = synthetic_rows(600) + synthetic_rows(100, "cos")
    loader.store([loader.make_dataset(i, h) for i, h in rows])
    return rows


def write_jsonl(path: Path, rows) -> Path:
    with open(path, "w") as handle:
        for ident, header in rows:
            handle.write(json.dumps({ident: header}) + "\n")
    return path
