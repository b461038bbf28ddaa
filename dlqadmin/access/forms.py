import re

from django import forms
from django.contrib.auth import get_user_model, password_validation

from .roles import DESCRIPTIONS, QUEUE_ROLES, ROLES


_USERNAME = re.compile(r"[\w.@+-]{1,150}")


class _RoleScopeForm(forms.Form):
    """A role and where it applies: chosen queues, every queue, or globally."""

    role = forms.ChoiceField(choices=[(r, f"{r} — {DESCRIPTIONS[r]}") for r in ROLES])
    all_queues = forms.BooleanField(required=False, label="All queues (including future ones)")
    # Check boxes in a box that scrolls (a multi-select needs ctrl-click and hides its choices).
    queues = forms.MultipleChoiceField(required=False, choices=(), widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, queues=(), **kwargs):
        """`queues`: Queue registry rows. A choice's value is the name itself, or for a name
        a form cannot carry (NUL, bytes that are not UTF-8) "~h" + its key."""
        super().__init__(*args, **kwargs)
        values = [(q.label if q.label == q.name else "~h" + q.key, q) for q in queues]
        self._names = {v: q.name for v, q in values}
        self.fields["queues"].choices = [(v, q.label) for v, q in values]

    def clean_queues(self):
        return [self._names[k] for k in self.cleaned_data["queues"]]

    def clean(self):
        data = super().clean()
        role, queues, all_queues = data.get("role"), data.get("queues"), data.get("all_queues")
        if role in QUEUE_ROLES and not queues and not all_queues:
            raise forms.ValidationError(f"{role} is a per-queue role: pick queues or 'All queues'.")
        if role and role not in QUEUE_ROLES and queues:
            raise forms.ValidationError(f"{role} is a global role; do not pick queues.")
        return data


class GrantForm(_RoleScopeForm):
    user = forms.ModelChoiceField(queryset=get_user_model().objects.order_by("username"), to_field_name="username")
    field_order = ["user", "role", "all_queues", "queues"]


class GroupRuleForm(_RoleScopeForm):
    """A single sign-on mapping rule: members of an IdP group get a role."""

    group = forms.CharField(max_length=256, label="Identity provider group")
    field_order = ["group", "role", "all_queues", "queues"]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "rule")
        super().__init__(*args, **kwargs)


class CreateUserForm(forms.Form):
    """A new local account; roles are granted with the form below it."""

    username = forms.CharField(max_length=150, label="User name")
    email = forms.EmailField(required=False, label="E-mail (optional)")
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), label="Initial password",
                               help_text="Tell it to them out of band; they can enrol an authenticator app "
                                         "at first sign-in.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "new")
        super().__init__(*args, **kwargs)

    def clean_username(self):
        name = get_user_model().normalize_username(self.cleaned_data["username"]).strip()
        if not name or not _USERNAME.fullmatch(name):
            raise forms.ValidationError("Use letters, digits and @ . + - _ only.")
        if get_user_model().objects.filter(username__iexact=name).exists():
            raise forms.ValidationError("A user with that name exists.")
        return name

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("username"):
            try:
                password_validation.validate_password(
                    data["password"], get_user_model()(username=data["username"], email=data.get("email", "")))
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data
