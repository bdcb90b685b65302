"""Loading the dataset catalog from CSV, JSON lines and FITS; bad rows load nothing."""

from __future__ import annotations

import json

import pytest
from astropy.io import fits
from django.core.management import CommandError, call_command

from reprocessing.loader import LoadError, load_files
from reprocessing.models import Dataset

GOOD = {"INSTRUME": "WFC3", "DETECTOR": "UVIS", "CCDAMP": "ABCD", "DATE-OBS": "2019-06-01", "TIME-OBS": "10:00:00"}


def write_csv(path, rows):
    keys = list(GOOD)
    lines = ["dataset_id," + ",".join(keys)] + [ident + "," + ",".join(h.get(k, "") for k in keys) for ident, h in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.django_db
def test_csv_and_jsonl_load_with_ids_upper_cased(tmp_path):
    csv_path = write_csv(tmp_path / "a.csv", [("iaaa01010:iaaa01abq", GOOD), ("ibbb01q", GOOD)])
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text(json.dumps({"id": "icccc1010:icccc1xyz", "header": dict(GOOD, DETECTOR="IR")}) + "\n"
                     + json.dumps({"IDDD01010:IDDD01ABC": GOOD}) + "\n")
    call_command("load_datasets", str(csv_path), str(jsonl))
    assert sorted(Dataset.objects.values_list("dataset_id", flat=True)) == [
        "IAAA01010:IAAA01ABQ", "IBBB01Q:IBBB01Q", "ICCCC1010:ICCCC1XYZ", "IDDD01010:IDDD01ABC"]
    row = Dataset.objects.get(dataset_id="ICCCC1010:ICCCC1XYZ")
    assert (row.instrument, row.date, row.parameters["DETECTOR"]) == ("wfc3", "2019-06-01 10:00:00", "IR")


@pytest.mark.django_db
def test_fits_primary_header(tmp_path):
    header = fits.Header()
    for key, value in dict(GOOD, ROOTNAME="IEEE01ABQ", ASN_ID="IEEE01010").items():
        header[key] = value
    path = tmp_path / "ieee01abq_raw.fits"
    fits.PrimaryHDU(header=header).writeto(path)
    assert load_files([path]) == 1
    row = Dataset.objects.get()
    assert row.dataset_id == "IEEE01010:IEEE01ABQ"
    assert row.parameters["DETECTOR"] == "UVIS" and row.date == "2019-06-01 10:00:00"


@pytest.mark.django_db
def test_bad_rows_are_reported_and_nothing_is_loaded(tmp_path):
    rows = [("igood1010:igood1abq", GOOD),
            ("bad id!", GOOD),
            ("inoinst1q", dict(GOOD, INSTRUME="HUBBLECAM")),
            ("inodate1q", dict(GOOD, **{"DATE-OBS": "June 1st"}))]
    path = write_csv(tmp_path / "mixed.csv", rows)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "ifine1q", "header": {"INSTRUME": "WFC3"\n'
                      '{"id": "ilong1q", "header": {"EXPTIME": ' + "9" * 5000 + '}}\n'
                      + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(LoadError) as info:
        load_files([path, broken])
    text = str(info.value)
    assert "nothing was loaded" in text
    assert "mixed.csv line 3: Invalid dataset id 'bad id!'" in text
    assert "mixed.csv line 4" in text and "'HUBBLECAM' is not a hst instrument" in text
    assert "mixed.csv line 5" in text and "DATE-OBS 'June 1st'" in text
    assert "broken.jsonl line 1: is not JSON" in text
    assert "broken.jsonl line 2: is not JSON that can be read" in text
    assert "broken.jsonl line 3: is not JSON that can be read" in text
    assert "Traceback" not in text and str(tmp_path) not in text
    assert Dataset.objects.count() == 0


@pytest.mark.django_db
def test_command_reports_bad_files_as_command_errors(tmp_path):
    odd = tmp_path / "datasets.txt"
    odd.write_text("whatever")
    with pytest.raises(CommandError, match="unknown kind of file; use .csv, .jsonl/.json or .fits"):
        call_command("load_datasets", str(odd))
    with pytest.raises(CommandError, match="No such file"):
        call_command("load_datasets", str(tmp_path / "absent.csv"))
    no_header = tmp_path / "nohead.csv"
    no_header.write_text("iaaa,WFC3\n")
    with pytest.raises(CommandError, match="first line must name the columns"):
        call_command("load_datasets", str(no_header))
    assert Dataset.objects.count() == 0
