"""Forms only parse input; the rules (warning < critical, patterns, URLs) are in services."""

from django import forms

from dlqadmin.masking.models import MaskingRule

from .models import Channel

OPTIONAL = {"required": False, "min_value": 0}


class PolicyForm(forms.Form):
    name = forms.SlugField(max_length=64)
    pattern = forms.CharField(max_length=300, help_text="queue name, glob (payments:*) or re:<regex>")
    description = forms.CharField(max_length=300, required=False)
    enabled = forms.BooleanField(required=False, help_text="off: matching queues raise no alerts")
    dlq_warning = forms.IntegerField(min_value=0, label="DLQ warning (dead tasks)")
    dlq_critical = forms.IntegerField(min_value=0, label="DLQ critical (dead tasks)")
    growth_threshold = forms.IntegerField(**OPTIONAL, label="Growth: new dead tasks per window")
    growth_window_minutes = forms.IntegerField(min_value=1, label="Growth window (minutes)")
    archive_cap_warning_percent = forms.IntegerField(**OPTIONAL, label="Archive cap warning (% of 9,999)")
    archive_cap_critical_percent = forms.IntegerField(**OPTIONAL, label="Archive cap critical (% of 9,999)")
    archive_age_warning_days = forms.IntegerField(**OPTIONAL, label="Oldest dead task warning (days, asynq deletes at 90)")
    pending_threshold = forms.IntegerField(**OPTIONAL, label="Pending backlog warning")
    latency_threshold_seconds = forms.IntegerField(**OPTIONAL, label="Latency warning (seconds)")
    check_interval_seconds = forms.IntegerField(min_value=10, label="Check interval (seconds)")
    repeat_interval_minutes = forms.IntegerField(min_value=1, label="Repeat interval (minutes)")
    send_resolved = forms.BooleanField(required=False, label="Send 'resolved'")
    channels = forms.ModelMultipleChoiceField(queryset=Channel.objects.all(), to_field_name="name",
                                              required=False, widget=forms.CheckboxSelectMultiple)
    runbook_url = forms.URLField(max_length=500, required=False, assume_scheme="https")
    vault_enabled = forms.BooleanField(required=False, label="Vault: capture dead tasks before asynq trims them")
    vault_retention_days = forms.IntegerField(min_value=1, required=False, label="Vault retention (days)",
                                              help_text="empty: 30")
    comment = forms.CharField(max_length=200, required=False, help_text="why (stored with the version)")

    SECTIONS = [
        ("Which queues", ["name", "pattern", "description", "enabled"]),
        ("When to alert", ["dlq_warning", "dlq_critical", "growth_threshold", "growth_window_minutes",
                           "archive_cap_warning_percent", "archive_cap_critical_percent", "archive_age_warning_days",
                           "pending_threshold", "latency_threshold_seconds"]),
        ("How to notify", ["channels", "check_interval_seconds", "repeat_interval_minutes", "send_resolved",
                           "runbook_url"]),
        ("Dead-task vault", ["vault_enabled", "vault_retention_days"]),
    ]

    def sections(self):
        """[(title, [bound field, ...])] for the editor; a field no section names goes last."""
        named = {n for _, names in self.SECTIONS for n in names}
        out = [(title, [self[n] for n in names if n in self.fields]) for title, names in self.SECTIONS]
        rest = [self[n] for n in self.fields if n not in named]
        return out + ([("This change", rest)] if rest else [])

    def policy_data(self):
        data = {k: v for k, v in self.cleaned_data.items() if k != "comment"}
        data["channels"] = [c.name for c in data["channels"]]
        if data.get("vault_retention_days") is None:
            data.pop("vault_retention_days", None)  # the model's default
        return data


class ChannelForm(forms.Form):
    name = forms.SlugField(max_length=64)
    kind = forms.ChoiceField(choices=Channel.KINDS)
    target = forms.CharField(max_length=1000, required=False, widget=forms.PasswordInput(render_value=False),
                             label="Webhook URL or e-mail addresses",
                             help_text="secret: stored encrypted, never shown again; leave empty to keep")
    routing_key = forms.CharField(max_length=200, required=False, widget=forms.PasswordInput(render_value=False),
                                  label="Routing key (JSON webhook / PagerDuty)")


class MaskingRuleForm(forms.ModelForm):
    """A stored masking rule; the model's clean() validates it through the engine."""

    sample = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                             help_text="Optional: paste a sample payload to see it masked with this rule.")

    class Meta:
        model = MaskingRule
        fields = ["queue_pattern", "task_type_pattern", "kind", "pattern", "label", "enabled", "note"]
