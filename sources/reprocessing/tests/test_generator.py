"""Synthetic datasets are valid for the rules they were generated from."""

from __future__ import annotations

import crds
import pytest
from django.core.management import CommandError, call_command

from reprocessing import synthetic
from reprocessing.models import Dataset
from reprocessing.tests.conftest import NEW


@pytest.mark.parametrize("instrument", ["wfc3", "acs", "cos"])
def test_generated_headers_get_real_best_references(rules, instrument):
    rows = list(synthetic.generate(NEW, instrument, 300, seed=11))
    assert len(rows) == 300 and len({i for i, _h in rows}) == 300
    assert rows == list(synthetic.generate(NEW, instrument, 300, seed=11))  # reproducible
    pmap = crds.get_cached_mapping(NEW)
    required = set(pmap.get_required_parkeys()[instrument])
    known = set(pmap.reference_names())
    found = failed = 0
    for ident, header in rows:
        assert required <= set(header) | {"REFTYPE"}, required - set(header)
        assert header["INSTRUME"] == instrument.upper() and ident == ident.upper() and ":" in ident
        refs = crds.getrecommendations(header, context=NEW, observatory="hst", fast=True)
        for value in refs.values():
            if not str(value).startswith("NOT FOUND"):
                found += 1
                assert value in known
            elif "n/a" not in value.lower():
                failed += 1
    assert found > 0.95 * (found + failed), (found, failed)  # like archive data: nearly all matched


@pytest.mark.django_db
def test_generate_command_loads_catalog_and_rejects_bad_options(rules, tmp_path):
    call_command("generate_datasets", "--context", NEW, "--instruments", "wfc3", "cos", "--count", "50")
    assert Dataset.objects.filter(instrument="wfc3").count() == 50
    assert Dataset.objects.filter(instrument="cos").count() == 50
    out = tmp_path / "acs.jsonl"
    call_command("generate_datasets", "--context", NEW, "--instruments", "acs", "--count", "20", "--output", str(out))
    assert len(out.read_text().splitlines()) == 20
    call_command("load_datasets", str(out))
    assert Dataset.objects.filter(instrument="acs").count() == 20
    with pytest.raises(CommandError, match="Unknown instrument"):
        call_command("generate_datasets", "--context", NEW, "--instruments", "hubble", "--count", "5")
    with pytest.raises(CommandError, match="Cannot load context 'hst_9999.pmap'"):
        call_command("generate_datasets", "--context", "hst_9999.pmap", "--instruments", "acs")
