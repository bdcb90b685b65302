"""The login form: credentials plus the instrument to lock."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from interactive.instruments import instruments


class LoginForm(AuthenticationForm):
    instrument = forms.ChoiceField(initial="none", help_text="Lock an instrument to submit files for it.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = [("none", "none")] + [(i, i) for i in instruments()]
