"""The extended (ReDCaT) submission form: its published description, validation and submission.

One description drives everything: `/submission_form/redcat_description.yml`
publishes it for the `crds.submit.Submission` API, the Django form that checks
a POST is built from it, and the answers are stored as a RedcatSubmission
before the ordinary Batch Submit References flow (interactive.submission)
runs.  A submission that fails leaves no record behind; the uploads stay in
the ingest area (server-behaviour.md §5.3).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import yaml
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from interactive import certify, instruments, submission
from interactive.models import RedcatSubmission, StoredResult
from interactive.submission_views import checkbox

CHAR, BOOLEAN, CHOICE = "CharField", "BooleanField", "TypedChoiceField"
YES_NO = ["N/A", "No", "Yes"]
SHORT, LONG = 256, 2000
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PERSON_RE = re.compile(r"^[\w .,'@()\-]+\Z")


def _text(key: str, label: str, required: bool, max_length: int = SHORT, help_text: str = "") -> dict:
    return {"key": key, "label": label, "type": CHAR, "required": required, "max_length": max_length,
            **({"help_text": help_text} if help_text else {})}


def _boolean(key: str, label: str) -> dict:
    return {"key": key, "label": label, "type": BOOLEAN, "required": False, "choices": [False, True],
            "initial": False}


def _yes_no(key: str, label: str, help_text: str = "") -> dict:
    return {"key": key, "label": label, "type": CHOICE, "required": True, "choices": YES_NO, "initial": "N/A",
            **({"help_text": help_text} if help_text else {})}


def fields() -> list[dict]:
    """The form's fields in order; `max_length` is ours and is not published."""
    names = list(instruments.instruments())
    return [
        _text("deliverer", "Name of deliverer", True, 128, "Who are you?"),
        _text("other_email", "Other e-mail adresses to send notifications", False, 512,
              "Comma-delimited list (optional)"),
        {"key": "instrument", "type": CHOICE, "required": True, "choices": names, "initial": names[0],
         "label": "Instrument  (All submitted files should match this instrument.  This instrument will be "
                  "locked for your submission exclusively)"},
        _text("file_type", "Type of files (Bias, Dark, etc.)", True),
        _boolean("history_updated", "Has HISTORY section in the primary header been updated to describe in "
                                    "detail the reason for delivery and how the files were created?"),
        _boolean("pedigree_updated", "Has PEDIGREE keyword been checked and updated as necessary?"),
        _boolean("keywords_checked", "Has COMMENT been checked?"),
        _boolean("descrip_updated", "Was the DESCRIP keyword updated with a summary of why the files were "
                                    "updated or created?"),
        _boolean("useafter_updated", "Has the USEAFTER keyword been checked, and if necessary, updated?"),
        _yes_no("useafter_matches", "If the reference files are replacing previous versions, do the new "
                                    "USEAFTER dates exactly match the old ones?", "N/A for ETC Files Only"),
        _yes_no("compliance_verified", "Verification for compliance complete (fits, certify, etc. or N/A)",
                "optional"),
        _boolean("ingest_files", "Should the affected files be reprocessed?"),
        _boolean("etc_delivery", "Should the files be submitted to the ETC?"),
        _boolean("jwst_etc", "Are these JWST ETC files?"),
        _text("calpipe_version", "Files run through the current version of the calibration software being used "
                                 "by the pipeline or PYSYNPHOT and ETC (yes/no and version number)", True),
        _boolean("replacement_files", "Are any files replacing old reference files (deliveries can be a mix of "
                                      "files that are or are not replacing old files) (yes/no)"),
        _text("old_reference_files", "If yes, list them here", False, LONG),
        _yes_no("replacing_badfiles", "If the files being replaced are bad, and should not be used with any "
                                      "data, please indicate this here"),
        _text("jira_issue", 'Any JIRA issues filed in regard to the references being delivered '
                            '(e.g. "REDCAT-25")', False, SHORT, "Comma-delimited list (optional)"),
        _text("table_rows_changed", "If files are tables, please indicate exactly which rows have changed",
              False, LONG),
        _text("modes_affected", "Please indicate which modes (e.g. all the STIS, FUVMAMA, E140L modes) are "
                                "affected by the changes in the files", True, LONG),
        _text("correctness_testing", "Description of how the files were tested for correctness", True, LONG),
        _text("additional_considerations", "Additional considerations", False, LONG),
    ]


def description() -> list[dict]:
    """What `/submission_form/redcat_description.yml` publishes."""
    return [{k: v for k, v in field.items() if k != "max_length"} for field in fields()]


def description_yaml() -> str:
    return yaml.safe_dump(description(), width=100)


# ---------------------------------------------------------------------------------------------------------
# Validation: a Django form built from the description.


class Checkbox(forms.CheckboxInput):
    """Keeps the posted text so the client's checkbox rule decides, not Django's narrower table."""

    def __init__(self, attrs=None, missing: str = ""):
        super().__init__(attrs, check_test=checkbox)
        self.missing = missing

    def value_from_datadict(self, data, files, name):
        return data.get(name, self.missing)

    def format_value(self, value):
        return "True"  # a ticked box posts "True", whatever was posted before


class CheckboxField(forms.BooleanField):
    """A boolean posted as "True"/"False"; `missing` is the text assumed when the field is left out."""

    def __init__(self, *, missing: str = "", **kwargs):
        super().__init__(required=False, widget=Checkbox(missing=missing), **kwargs)

    def to_python(self, value):
        return checkbox(value)


class PublishedChoiceField(forms.ChoiceField):
    """Accepts any case of a published choice and stores the published spelling, as the client does."""

    def to_python(self, value):
        value = super().to_python(value)
        for choice, _ in self.choices:
            if str(choice).lower() == value.lower():
                return choice
        return value


def _plain_text(value: str) -> None:
    if CONTROL_RE.search(value or ""):
        raise ValidationError("Use plain text: control characters are not allowed.")


def _person(value: str) -> None:
    if value and not PERSON_RE.match(value):
        raise ValidationError("Use letters, digits, spaces and . , ' @ ( ) - only.")


def email_list(value: str) -> list[str]:
    """The addresses of a comma- (or space-) separated list."""
    return [part for part in re.split(r"[,\s]+", value or "") if part]


def _email_list(value: str) -> None:
    for address in email_list(value):
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f"'{address[:80]}' is not a valid e-mail address.") from None


def _description_text(value: str) -> None:
    if not submission.DESCRIPTION_RE.match(value or ""):
        raise ValidationError("Use up to 2000 letters, digits, spaces and . _ / , = - + only.")


def _creator_text(value: str) -> None:
    if not submission.CREATOR_RE.match(value or ""):
        raise ValidationError("Use up to 128 letters, digits, spaces and _ . @ , - only.")


def _form_field(spec: dict) -> forms.Field:
    common = {"label": spec["label"], "help_text": spec.get("help_text", ""), "initial": spec.get("initial")}
    if spec["type"] == BOOLEAN:
        return CheckboxField(**common)
    if spec["type"] == CHOICE:
        return PublishedChoiceField(required=spec["required"], choices=[(c, c) for c in spec["choices"]],
                                    **common)
    validators = [_plain_text]
    if spec["key"] == "other_email":
        validators.append(_email_list)
    elif spec["key"] == "deliverer":
        validators.append(_person)
    widget = forms.Textarea(attrs={"rows": 3, "cols": 80}) if spec["max_length"] >= LONG else None
    return forms.CharField(required=spec["required"], max_length=spec["max_length"], strip=True,
                           validators=validators, widget=widget, **common)


class RedcatForm(forms.Form):
    """The published ReDCaT fields plus the Batch Submit fields (crds-protocol.md §7.4)."""

    pmap_mode = forms.ChoiceField(choices=[(m, m) for m in certify.PMAP_MODES], initial="pmap_edit")
    pmap_name = forms.CharField(required=False, max_length=128)
    pmap_text = forms.CharField(required=False, max_length=128)
    change_level = PublishedChoiceField(choices=[(c, c) for c in submission.CHANGE_LEVELS], initial="SEVERE",
                                        label="Degree that new files are expected to impact science results.")
    description = forms.CharField(max_length=2000, validators=[_description_text], widget=forms.Textarea(
        attrs={"rows": 4, "cols": 80}), label="Information about file changes and expected impacts, include "
                                               "instrument and type.")
    creator = forms.CharField(required=False, max_length=128, validators=[_creator_text])
    auto_rename = CheckboxField(initial=True, missing="True")  # as Batch Submit: left out means rename
    compare_old_reference = CheckboxField(initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for spec in fields():
            self.fields[spec["key"]] = _form_field(spec)

    def redcat_fields(self) -> list[forms.BoundField]:
        keys = [spec["key"] for spec in fields()]
        return [self[key] for key in keys]

    def errors_text(self) -> str:
        """One line per problem, labelled with the field key the client posts."""
        return "\n".join(f"{key}: {' '.join(messages)}" for key, messages in self.errors.items())


# ---------------------------------------------------------------------------------------------------------
# The service.


def answers(cleaned: dict) -> dict:
    """The published fields' cleaned values, by key."""
    return {spec["key"]: cleaned.get(spec["key"]) for spec in fields()}


def redcat_submit(cleaned: dict, user: str, lock=None, channel: str = "",
                  result_url: Callable[[str], str] | None = None) -> tuple[RedcatSubmission, StoredResult]:
    """Store the answers, then run Batch Submit References; a failure removes the record and re-raises.

    `cleaned` is a valid RedcatForm's cleaned_data; `lock` the user's instrument lock (None when an unlocked
    superuser submits).  Raises submission.SubmissionError for problems the user can fix.
    """
    instrument = cleaned["instrument"]
    if lock is not None and instrument != lock.name:
        raise submission.SubmissionError(f"Instrument Mismatch: Logged in for '{lock.name}'. "
                                         f"The form names instrument '{instrument}'.")
    record = RedcatSubmission.objects.create(
        user=user, deliverer=cleaned["deliverer"], instrument=instrument, file_type=cleaned["file_type"],
        change_level=cleaned["change_level"], description=cleaned["description"], answers=answers(cleaned))
    extra = {"result_url": result_url} if result_url else {}
    batch = submission.BatchRequest(
        user=user, description=cleaned["description"], pmap_mode=cleaned["pmap_mode"],
        pmap_name=cleaned["pmap_text"] or cleaned["pmap_name"], creator=cleaned["creator"],
        change_level=cleaned["change_level"], auto_rename=cleaned["auto_rename"],
        compare_old_reference=cleaned["compare_old_reference"], lock_id=lock.lock_id if lock else "",
        locked_instrument=lock.name if lock else "", instrument=instrument, channel=channel,
        notify=tuple(email_list(cleaned["other_email"])), **extra)
    try:
        result = submission.batch_submit(batch)
    except BaseException:
        record.delete()
        raise
    record.result_name = result.name
    record.published_date = datetime.datetime.now()
    record.save(update_fields=["result_name", "published_date"])
    submission.announce_done(batch, result)
    return record, result


def history() -> list[RedcatSubmission]:
    """Submissions that reached a result, newest first."""
    return list(RedcatSubmission.objects.filter(published_date__isnull=False).order_by("-published_date", "-id"))


def detail(submission_id: int) -> tuple[RedcatSubmission, list[tuple[str, object]]] | None:
    """A stored submission and its answers as (label, value) in form order, or None."""
    record = RedcatSubmission.objects.filter(id=submission_id).first()
    if record is None:
        return None
    rows = [(spec["label"], record.answers.get(spec["key"], "")) for spec in fields()]
    return record, rows
