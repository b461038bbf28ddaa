from django import forms
from django.contrib.auth import get_user_model

from .roles import DESCRIPTIONS, QUEUE_ROLES, ROLES


class _RoleScopeForm(forms.Form):
    """A role and where it applies: chosen queues, every queue, or globally."""

    role = forms.ChoiceField(choices=[(r, f"{r} — {DESCRIPTIONS[r]}") for r in ROLES])
    all_queues = forms.BooleanField(required=False, label="All queues (including future ones)")
    queues = forms.MultipleChoiceField(required=False, choices=())

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
