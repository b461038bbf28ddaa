from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from . import services


class PasswordLoginForm(AuthenticationForm):
    """Django's sign-in form, refusing (audited) non-break-glass users when
    DLQADMIN_PASSWORD_LOGIN is off."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "password_login_off": "Password sign-in is turned off: use single sign-on.",
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not services.password_login_allowed(user, self.request):
            raise forms.ValidationError(self.error_messages["password_login_off"], code="password_login_off")


class AdminPasswordLoginForm(AdminAuthenticationForm):
    """The Django admin's sign-in form with the same rule (it is another password door)."""

    error_messages = PasswordLoginForm.error_messages | AdminAuthenticationForm.error_messages

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not services.password_login_allowed(user, self.request):
            raise forms.ValidationError(PasswordLoginForm.error_messages["password_login_off"],
                                        code="password_login_off")


class TokenForm(forms.Form):
    token = forms.CharField(label="Code from your authenticator app", min_length=6, max_length=8,
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                          "autofocus": True}))

    def clean_token(self):
        token = self.cleaned_data["token"].replace(" ", "")
        if not token.isdigit():
            raise forms.ValidationError("The code is digits only.")
        return token
