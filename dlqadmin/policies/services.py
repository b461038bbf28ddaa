"""Writes: validate, save with a version, restore, delete, channels, import/export.

Every mutation is validated here (the UI form and `import_policies` call the same
functions), stored with a new PolicyVersion, and audited with the diff. The audit
write happens inside the same transaction: if it fails, nothing is saved.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import transaction
from dlqadmin.core import clock

from dlqadmin.core.patterns import PatternError

from . import crypto
from .models import Channel, Policy, PolicyVersion
from .selectors import DEFAULT_NAME, DEFAULT_PATTERN, builtin_default, compile_pattern, pattern_kind

# The fields that make up a policy, in display order (versions, diff, export).
FIELDS = (
    "pattern", "description", "enabled",
    "dlq_warning", "dlq_critical", "growth_threshold", "growth_window_minutes",
    "archive_cap_warning_percent", "archive_cap_critical_percent", "archive_age_warning_days",
    "pending_threshold", "latency_threshold_seconds",
    "check_interval_seconds", "repeat_interval_minutes", "send_resolved", "runbook_url",
    "vault_enabled", "vault_retention_days",
)
INT_FIELDS = {"dlq_warning", "dlq_critical", "growth_threshold", "growth_window_minutes",
              "archive_cap_warning_percent", "archive_cap_critical_percent", "archive_age_warning_days",
              "pending_threshold", "latency_threshold_seconds", "check_interval_seconds",
              "repeat_interval_minutes", "vault_retention_days"}
OPTIONAL_INT_FIELDS = {"growth_threshold", "archive_cap_warning_percent", "archive_cap_critical_percent",
                       "archive_age_warning_days", "pending_threshold", "latency_threshold_seconds"}
BOOL_FIELDS = {"enabled", "send_resolved", "vault_enabled"}
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
RESERVED_NAMES = {"new", "preview", "channels"}


def _audit(action, **kwargs):
    from dlqadmin.audit import record  # the one audit entry point; raises AuditWriteError

    return record(action, **kwargs)


# --- Outbound URLs ----------------------------------------------------------------

def validate_outbound_url(url):
    """https to an allowed host (DLQADMIN_WEBHOOK_ALLOWED_HOSTS); plain http only to a
    loopback host that is listed there (test servers). Raises ValidationError."""
    allowed = {h.lower() for h in settings.DLQADMIN_WEBHOOK_ALLOWED_HOSTS}
    try:
        URLValidator(schemes=["http", "https"])(url)
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except (ValidationError, ValueError):
        raise ValidationError("Enter a valid http(s) URL.") from None
    if parts.username or parts.password:
        raise ValidationError("Webhook URLs may not carry a user name or password.")
    if host not in allowed:
        raise ValidationError(f"Host {host!r} is not allowed (DLQADMIN_WEBHOOK_ALLOWED_HOSTS: "
                              f"{', '.join(sorted(allowed)) or 'none'}).")
    if parts.scheme != "https" and not _is_loopback(host):
        raise ValidationError("Use https (plain http only for loopback hosts listed for testing).")
    return url


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- Policy data ----------------------------------------------------------------

def policy_to_dict(policy):
    """A plain, secret-free snapshot: what versions store, diffs compare and export writes."""
    data = {"name": policy.name}
    for f in FIELDS:
        data[f] = getattr(policy, f)
    data["channels"] = sorted(c.name for c in policy.channels.all()) if policy.pk else []
    return data


def normalise(raw):
    """Coerce a dict from a form or a file into policy data; raise ValidationError listing every problem."""
    errors = {}
    data = {"name": str(raw.get("name", "")).strip()}
    base = policy_to_dict(builtin_default()) if data["name"] == DEFAULT_NAME else None
    defaults = {f: getattr(Policy, f).field.get_default() for f in FIELDS}
    for f in FIELDS:
        value = raw[f] if f in raw else (base[f] if base else defaults[f])
        if f in INT_FIELDS:
            if value in (None, "") and f in OPTIONAL_INT_FIELDS:
                value = None
            else:
                try:
                    value = int(value)
                    if value < 0:
                        raise ValueError
                except (TypeError, ValueError):
                    errors[f] = "Enter a whole number of 0 or more."
                    continue
        elif f in BOOL_FIELDS:
            if isinstance(value, str):
                value = value.lower() in ("1", "true", "on", "yes")
            value = bool(value)
        else:
            value = "" if value is None else str(value).strip()
        data[f] = value
    channels = raw.get("channels") or []
    if isinstance(channels, str):
        channels = [c.strip() for c in channels.split(",") if c.strip()]
    data["channels"] = sorted({getattr(c, "name", c) for c in channels})
    unknown = set(raw) - set(FIELDS) - {"name", "channels"}
    if unknown:
        errors["__all__"] = f"Unknown fields: {', '.join(sorted(unknown))}."
    _check(data, errors)
    if errors:
        raise ValidationError(errors)
    return data


def _check(data, errors):
    name = data["name"]
    if not NAME_RE.match(name):
        errors["name"] = "Use 1–64 lower-case letters, digits, '-' or '_'."
    elif name in RESERVED_NAMES:
        errors["name"] = f"{name!r} is reserved."
    if name == DEFAULT_NAME and data.get("pattern") != DEFAULT_PATTERN:
        errors["pattern"] = "The default policy always covers every queue ('*')."
    pattern = data.get("pattern", "")
    if not pattern:
        errors["pattern"] = "Enter a queue name, a glob such as 'payments:*' or 're:<regex>'."
    elif "pattern" not in errors:
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            what = "regular expression (RE2)" if pattern_kind(pattern) == "regex" else "glob"
            errors["pattern"] = f"Invalid {what}: {exc}."
        if pattern == DEFAULT_PATTERN and name != DEFAULT_NAME:
            errors["pattern"] = "'*' is the default policy's pattern: edit the default policy instead."
    w, c = data.get("dlq_warning"), data.get("dlq_critical")
    if isinstance(w, int) and isinstance(c, int):
        if w < 1:
            errors["dlq_warning"] = "The warning threshold must be 1 or more."
        elif not w < c:
            errors["dlq_critical"] = "The critical threshold must be greater than the warning threshold."
    cw, cc = data.get("archive_cap_warning_percent"), data.get("archive_cap_critical_percent")
    for f, v in (("archive_cap_warning_percent", cw), ("archive_cap_critical_percent", cc)):
        if isinstance(v, int) and not 1 <= v <= 100:
            errors[f] = "Enter a percentage between 1 and 100."
    if isinstance(cw, int) and isinstance(cc, int) and not cw < cc and "archive_cap_critical_percent" not in errors:
        errors["archive_cap_critical_percent"] = "Must be greater than the warning percentage."
    age = data.get("archive_age_warning_days")
    if isinstance(age, int) and not 1 <= age < 90:
        errors["archive_age_warning_days"] = "asynq deletes dead tasks after 90 days: enter 1–89."
    for f, lo in (("growth_window_minutes", 1), ("check_interval_seconds", 10), ("repeat_interval_minutes", 1),
                  ("vault_retention_days", 1)):
        v = data.get(f)
        if isinstance(v, int) and v < lo:
            errors[f] = f"Must be at least {lo}."
    for f in ("growth_threshold", "pending_threshold", "latency_threshold_seconds"):
        if data.get(f) == 0:
            errors[f] = "Leave empty to switch this rule off, or enter 1 or more."
    if data.get("runbook_url"):
        try:
            URLValidator(schemes=["http", "https"])(data["runbook_url"])
        except ValidationError:
            errors["runbook_url"] = "Enter an http(s) URL."
    missing = set(data.get("channels", [])) - set(Channel.objects.filter(
        name__in=data.get("channels", [])).values_list("name", flat=True))
    if missing:
        errors["channels"] = f"Unknown channels: {', '.join(sorted(missing))}."


def diff(old, new):
    """[(field, old, new)] for fields that differ (old may be None: a new policy)."""
    old = old or {}
    keys = ["name", *FIELDS, "channels"]
    return [(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]


def _jsonable(rows):
    return [{"field": k, "old": o, "new": n} for k, o, n in rows]


@transaction.atomic
def save_policy(raw, *, actor=None, request=None, policy=None, comment="", via="ui"):
    """Validate and store `raw`; a new PolicyVersion and an audit record with the diff.
    `policy` None creates (or, for name 'default', takes over the built-in default).
    Returns (policy, changed)."""
    data = normalise(raw)
    if policy is not None and policy.pk is None:
        policy = None
    if policy is None:
        existing = Policy.objects.select_for_update().filter(name=data["name"]).first()
        if existing is not None and data["name"] != DEFAULT_NAME:
            raise ValidationError({"name": "A policy with this name exists."})
        policy = existing
    else:
        policy = Policy.objects.select_for_update().get(pk=policy.pk)
        if policy.is_default and data["name"] != DEFAULT_NAME:
            raise ValidationError({"name": "The default policy cannot be renamed."})
        if data["name"] != policy.name and Policy.objects.filter(name=data["name"]).exists():
            raise ValidationError({"name": "A policy with this name exists."})
    creating = policy is None
    if creating:
        is_default = data["name"] == DEFAULT_NAME
        policy = Policy(name=data["name"], is_default=is_default)
        old = policy_to_dict(builtin_default()) if is_default else None
    else:
        old = policy_to_dict(policy)
    new = dict(data)
    changes = diff(old, new)
    if not changes:
        return policy or builtin_default(), False
    for f in FIELDS:
        setattr(policy, f, data[f])
    policy.name = data["name"]
    policy.save()
    if creating and policy.is_default:
        # Version 1 of the default is the built-in one, so the first edit has a diff.
        PolicyVersion.objects.create(policy=policy, number=1, data=old, comment="built-in default")
        policy.version = 1
    policy.channels.set(Channel.objects.filter(name__in=data["channels"]))
    policy.version += 1
    policy.save(update_fields=["version", "updated_at"])
    PolicyVersion.objects.create(policy=policy, number=policy.version, data=new, created_by=_user(actor, request),
                                 comment=comment[:200])
    _audit("policy.create" if creating and not policy.is_default else "policy.update",
           request=request, actor=actor, target=f"policy:{policy.name}", reason=comment,
           detail={"version": policy.version, "via": via, "diff": _jsonable(changes)})
    return policy, True


def _user(actor, request):
    user = actor or (getattr(request, "user", None) if request is not None else None)
    return user if getattr(user, "is_authenticated", False) else None


def restore_version(policy, number, *, actor=None, request=None):
    version = PolicyVersion.objects.get(policy=policy, number=number)
    data = dict(version.data)
    data["name"] = policy.name  # a rename is not restored
    data["channels"] = [c for c in data.get("channels", []) if Channel.objects.filter(name=c).exists()]
    return save_policy(data, actor=actor, request=request, policy=policy,
                       comment=f"restored version {number}", via="restore")


@transaction.atomic
def delete_policy(policy, *, actor=None, request=None):
    if policy.is_default:
        raise ValidationError("The default policy cannot be deleted.")
    snapshot = policy_to_dict(policy)
    _audit("policy.delete", request=request, actor=actor, target=f"policy:{policy.name}",
           detail={"policy": snapshot})
    policy.delete()


# --- Channels ---------------------------------------------------------------------

def _validate_emails(value):
    addresses = [a.strip() for a in value.split(",") if a.strip()]
    if not addresses:
        raise ValidationError("Enter at least one e-mail address.")
    for a in addresses:
        EmailValidator(message=f"{a!r} is not a valid e-mail address.")(a)
    return ", ".join(addresses)


def channel_target(channel):
    """The decrypted target (URL or addresses); SecretUnreadable if the key changed."""
    if channel.kind == Channel.EMAIL:
        return channel.target_encrypted
    return crypto.decrypt(channel.target_encrypted)


def channel_display(channel):
    if channel.kind == Channel.EMAIL:
        return channel.target_encrypted
    try:
        return crypto.mask_url(channel_target(channel))
    except crypto.SecretUnreadable:
        return "(unreadable: re-enter)"


@transaction.atomic
def save_channel(*, name, kind, target="", routing_key="", channel=None, actor=None, request=None):
    """Create or update a channel. An empty `target`/`routing_key` on update keeps the stored one."""
    errors = {}
    if not NAME_RE.match(name or ""):
        errors["name"] = "Use 1–64 lower-case letters, digits, '-' or '_'."
    elif Channel.objects.filter(name=name).exclude(pk=getattr(channel, "pk", None)).exists():
        errors["name"] = "A channel with this name exists."
    if kind not in dict(Channel.KINDS):
        errors["kind"] = "Choose a kind."
    if channel is not None and channel.system:
        errors["__all__"] = "This channel comes from the environment and cannot be edited here."
    if channel is None and not target:
        errors["target"] = "Required."
    if target and "kind" not in errors:
        try:
            target = _validate_emails(target) if kind == Channel.EMAIL else validate_outbound_url(target.strip())
        except ValidationError as exc:
            errors["target"] = exc.messages[0]
    if errors:
        raise ValidationError(errors)
    creating = channel is None
    channel = channel or Channel()
    changed = ["name"] if channel.name != name else []
    if channel.kind != kind:
        changed.append("kind")
    channel.name, channel.kind = name, kind
    if target:
        channel.target_encrypted = target if kind == Channel.EMAIL else crypto.encrypt(target)
        changed.append("target")
    if routing_key:
        channel.routing_key_encrypted = crypto.encrypt(routing_key.strip())
        changed.append("routing_key")
    if target and not channel.enabled:  # a new target re-enables a channel disabled by errors
        channel.enabled, channel.disabled_reason, channel.disabled_at = True, "", None
    channel.save()
    _audit("channel.create" if creating else "channel.update", request=request, actor=actor,
           target=f"channel:{channel.name}",
           detail={"kind": kind, "changed": changed, "target": channel_display(channel)})
    return channel


@transaction.atomic
def set_channel_enabled(channel, enabled, *, actor=None, request=None, reason=""):
    channel.enabled = enabled
    channel.disabled_reason = "" if enabled else (reason or "disabled by a user")[:300]
    channel.disabled_at = None if enabled else clock.now()
    channel.save(update_fields=["enabled", "disabled_reason", "disabled_at", "updated_at"])
    _audit("channel.enable" if enabled else "channel.disable", request=request, actor=actor,
           target=f"channel:{channel.name}", reason=reason)


@transaction.atomic
def delete_channel(channel, *, actor=None, request=None):
    if channel.system:
        raise ValidationError("This channel comes from the environment.")
    _audit("channel.delete", request=request, actor=actor, target=f"channel:{channel.name}")
    channel.delete()


def sync_env_channel():
    """Keep the system channel for SLACK_WEBHOOK_URL in step with the environment."""
    url = settings.SLACK_WEBHOOK_URL
    channel = Channel.objects.filter(system="env").first()
    if not url:
        if channel is not None and channel.enabled:
            Channel.objects.filter(pk=channel.pk).update(enabled=False, disabled_reason="SLACK_WEBHOOK_URL unset")
        return None
    if channel is None:
        channel = Channel.objects.create(name="slack-env", kind=Channel.SLACK, system="env",
                                         target_encrypted=crypto.encrypt(url))
        return channel
    try:
        same = crypto.decrypt(channel.target_encrypted) == url
    except crypto.SecretUnreadable:
        same = False
    if not same:
        channel.target_encrypted = crypto.encrypt(url)
        channel.enabled, channel.disabled_reason, channel.disabled_at = True, "", None
        channel.save()
    return channel


# --- Policy as code -------------------------------------------------------------

EXPORT_FORMAT = 1


def export_policies():
    """Every saved policy (and the default, built-in or edited) plus channel names and kinds."""
    from .selectors import Resolver

    policies = sorted(Resolver.load().policies, key=lambda p: (not p.is_default, p.name))
    return {
        "format": EXPORT_FORMAT,
        "channels": [{"name": c.name, "kind": c.kind} for c in Channel.objects.exclude(system="env")],
        "policies": [policy_to_dict(p) for p in policies],
    }


def import_policies(doc, *, actor=None, request=None):
    """Apply a document from export_policies. Validated first as a whole; each changed
    policy is saved (versioned, audited) like a UI edit. Policies not in the file are
    left alone. Channels must exist (secrets never travel in files). Returns a summary."""
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise ValidationError(f"Not a dlqadmin policy file (expected 'format: {EXPORT_FORMAT}').")
    items = doc.get("policies")
    if not isinstance(items, list):
        raise ValidationError("'policies' must be a list.")
    problems, names = [], set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"policies[{i}]: not a mapping")
            continue
        name = item.get("name")
        if name in names:
            problems.append(f"policies[{i}]: duplicate name {name!r}")
        names.add(name)
        try:
            normalise(item)
        except ValidationError as exc:
            problems.append(f"policies[{i}] ({name}): " + "; ".join(
                f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
    for c in doc.get("channels") or []:
        if not Channel.objects.filter(name=c.get("name"), kind=c.get("kind")).exists():
            problems.append(f"channel {c.get('name')!r} ({c.get('kind')}) does not exist here: create it in the UI first")
    if problems:
        raise ValidationError(problems)
    summary = {"created": [], "updated": [], "unchanged": []}
    with transaction.atomic():
        for item in items:
            existing = Policy.objects.filter(name=item["name"]).first()
            policy, changed = save_policy(item, actor=actor, request=request, policy=existing,
                                          comment="import", via="import")
            key = "unchanged" if not changed else ("updated" if existing else "created")
            summary[key].append(policy.name)
    return summary
