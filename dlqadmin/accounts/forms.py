from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from . import services
from .models import Preferences


class PasswordLoginForm(AuthenticationForm):
    """Django's sign-in form, refusing (audited) non-break-glass users when
    DLQADMIN_PASSWORD_LOGIN is off."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not services.password_login_allowed(user, self.request):
            # The same answer as a wrong password: a distinct one would tell that this one was right.
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login",
                                        params={"username": self.username_field.verbose_name})


class AdminPasswordLoginForm(AdminAuthenticationForm):
    """The Django admin's sign-in form with the same rule (it is another password door)."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not services.password_login_allowed(user, self.request):
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login",
                                        params={"username": self.username_field.verbose_name})


class TokenForm(forms.Form):
    token = forms.CharField(label="Code from your authenticator app", min_length=6, max_length=8,
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                          "autofocus": True}))

    def clean_token(self):
        token = self.cleaned_data["token"].replace(" ", "")
        if not token.isdigit():
            raise forms.ValidationError("The code is digits only.")
        return token


class PreferencesForm(forms.Form):
    """The theme toggle and the live-refresh choice post here; either field may be left out."""

    theme = forms.ChoiceField(choices=Preferences.THEMES, required=False)
    refresh_seconds = forms.TypedChoiceField(choices=Preferences.REFRESH, coerce=int, required=False,
                                             empty_value=None)

    def changes(self):
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
