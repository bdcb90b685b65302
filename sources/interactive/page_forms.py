"""Forms of the read-only pages; every field is checked against a pattern or a menu."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

from interactive import browse
from interactive.instruments import instruments

FILE_NAME = RegexValidator(r"^[A-Za-z0-9._\-]{1,128}$", "Use a CRDS file name: letters, digits, '.', '_' and '-'.")
GLOB = RegexValidator(browse.GLOB_RE.pattern, "Use letters, digits, '._-' and the wildcards * and ?.")
USER = RegexValidator(r"^[A-Za-z0-9_.@+\-]{1,80}$", "Use a user name: letters, digits and '_.@+-'.")
WORD = RegexValidator(r"^[a-z0-9_\-]{1,64}$", "Use lower-case letters, digits, '_' and '-'.")
ACTIONS = ("mass import", "submit file", "blacklist", "new context", "batch submit", "set default context",
           "delete references", "add references", "add_files tool")


def _menu(values, blank="any") -> list[tuple[str, str]]:
    return [("", blank)] + [(v, v) for v in values]


class DateRangeForm(forms.Form):
    date_from = forms.DateField(required=False, label="Delivered from", input_formats=["%Y-%m-%d"],
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="to", input_formats=["%Y-%m-%d"],
                              widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data


class BrowseForm(DateRangeForm):
    """Browse Database filters, sort and page."""

    field_order = ("instrument", "filekind", "extension", "glob", "deliverer", "status", "date_from", "date_to",
                   "bad", "per_page")

    instrument = forms.ChoiceField(required=False)
    filekind = forms.CharField(required=False, label="Reference type", validators=[WORD])
    extension = forms.ChoiceField(required=False, choices=_menu(browse.EXTENSIONS))
    glob = forms.CharField(required=False, label="File name", validators=[GLOB],
                           help_text="e.g. *_bia.fits or hst_acs_*.rmap")
    deliverer = forms.CharField(required=False, validators=[USER])
    status = forms.ChoiceField(required=False, choices=_menu(browse.STATUSES))
    bad = forms.ChoiceField(required=False, label="Bad files", choices=[(c, c) for c in browse.BAD_CHOICES])
    sort = forms.CharField(required=False, widget=forms.HiddenInput)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000_000, widget=forms.HiddenInput)
    per_page = forms.TypedChoiceField(required=False, coerce=int, label="Rows per page",
                                      choices=[(n, n) for n in browse.PAGE_SIZES], empty_value=50)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = _menu(instruments())
        # Rendered by hand with Bootstrap classes: this form is on every Browse page.
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def clean_sort(self) -> str:
        sort = self.cleaned_data.get("sort") or browse.DEFAULT_SORT
        try:
            browse.order_by(sort)
        except browse.BadQuery as exc:
            raise forms.ValidationError(str(exc)) from None
        return sort

    def filters(self) -> browse.Filters:
        data = self.cleaned_data
        return browse.Filters(
            instrument=data.get("instrument") or "", filekind=data.get("filekind") or "",
            extension=data.get("extension") or "", glob=data.get("glob") or "",
            deliverer=data.get("deliverer") or "", status=data.get("status") or "",
            date_from=data.get("date_from"), date_to=data.get("date_to"), bad=data.get("bad") or "include")


class RecentActivityForm(DateRangeForm):
    """Recent Activity filters; the user filter only exists for logged-in users."""

    action = forms.ChoiceField(required=False, choices=_menu(ACTIONS))
    instrument = forms.ChoiceField(required=False)
    filekind = forms.CharField(required=False, label="Reference type", validators=[WORD])
    filename = forms.CharField(required=False, label="File name", validators=[GLOB])
    user = forms.CharField(required=False, validators=[USER])
    mass_import = forms.BooleanField(required=False, label="Include mass import rows")
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000_000)

    def __init__(self, *args, show_user: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = _menu(instruments())
        self.fields["date_from"].label = "From"
        if not show_user:
            del self.fields["user"]


class DifferenceForm(forms.Form):
    """Two cataloged names; logged-in users may pick either side from their ingest area instead."""

    file1 = forms.CharField(required=False, label="Old file", validators=[FILE_NAME], max_length=128)
    upload1 = forms.ChoiceField(required=False, label="or the old file from your ingest area")
    file2 = forms.CharField(required=False, label="New file", validators=[FILE_NAME], max_length=128)
    upload2 = forms.ChoiceField(required=False, label="or the new file from your ingest area")

    def __init__(self, *args, ingest: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if ingest is None:
            del self.fields["upload1"], self.fields["upload2"]
        else:
            for name in ("upload1", "upload2"):
                self.fields[name].choices = _menu(ingest, blank="-")

    def clean(self):
        data = super().clean()
        for side in ("1", "2"):
            given = [bool(data.get("file" + side)), bool(data.get("upload" + side))]
            if sum(given) != 1 and f"file{side}" not in self.errors:
                self.add_error("file" + side, "Give one cataloged file name" + (
                    " or choose one file of your ingest area." if "upload" + side in self.fields else "."))
        return data


class BestrefsForm(forms.Form):
    context = forms.ChoiceField()
    header = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 10}),
                             label="Header keywords", help_text="One 'KEYWORD = value' per line, or a JSON object.")
    dataset = forms.FileField(required=False, label="or a FITS dataset")

    def __init__(self, *args, contexts: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["context"].choices = [(c, c) for c in contexts]

    def clean(self):
        data = super().clean()
        if not data.get("header") and not data.get("dataset"):
            raise forms.ValidationError("Paste header keywords or upload a FITS dataset.")
        return data


class ExploreChoiceForm(forms.Form):
    context = forms.ChoiceField()
    instrument = forms.ChoiceField()

    def __init__(self, *args, contexts: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["context"].choices = [(c, c) for c in contexts]
        self.fields["instrument"].choices = [(i, i) for i in instruments()]
