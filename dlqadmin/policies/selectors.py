"""Reads: which policy governs a queue (most specific wins), channels, versions.

Specificity, most specific first:
  1. exact queue name (no glob characters, no "re:" prefix);
  2. globs (fnmatch `*`, `?`, `[...]`), more literal characters first, then fewer wildcards;
  3. regexes ("re:<regex>", full match), longer pattern first;
  4. the built-in default policy ("*"), which covers every queue.
Ties break on the policy name. A policy that is switched off still wins its queues:
that is how a queue is muted.
"""

from dataclasses import dataclass

from django.conf import settings
from django.shortcuts import get_object_or_404

from dlqadmin.core.patterns import PatternError, compile_glob, compile_regex

from .models import Channel, Policy, PolicyVersion

DEFAULT_NAME = "default"
DEFAULT_PATTERN = "*"
GLOB_CHARS = set("*?[")
REGEX_PREFIX = "re:"


def builtin_default():
    """The built-in default policy as it is before anyone edits it (unsaved)."""
    return Policy(name=DEFAULT_NAME, pattern=DEFAULT_PATTERN, is_default=True,
                  description="Built-in: covers every queue no other policy matches.")


def default_policy():
    return Policy.objects.filter(is_default=True).first() or builtin_default()


def pattern_kind(pattern):
    if pattern.startswith(REGEX_PREFIX):
        return "regex"
    if GLOB_CHARS & set(pattern):
        return "glob"
    return "exact"


def specificity(policy):
    if policy.is_default:
        return (3, 0, 0, policy.name)
    kind = pattern_kind(policy.pattern)
    if kind == "exact":
        return (0, -len(policy.pattern), 0, policy.name)
    if kind == "glob":
        wild = sum(1 for ch in policy.pattern if ch in GLOB_CHARS)
        return (1, -(len(policy.pattern) - wild), wild, policy.name)
    return (2, -len(policy.pattern), 0, policy.name)


def compile_pattern(pattern):
    """A predicate name -> bool. Raises PatternError for a pattern RE2 cannot run.

    Regexes and globs both run on RE2 (linear time): a pattern is user input and is
    matched against every queue in every check round and preview."""
    kind = pattern_kind(pattern)
    if kind == "regex":
        return compile_regex(pattern[len(REGEX_PREFIX):]).matches
    if kind == "glob":
        return compile_glob(pattern).matches
    return lambda name: name == pattern


@dataclass
class Resolver:
    """Policies in specificity order, patterns compiled once; resolve many queues fast."""

    ordered: list

    @classmethod
    def load(cls, policies=None):
        if policies is None:
            policies = list(Policy.objects.prefetch_related("channels"))
        if not any(p.is_default for p in policies):
            policies = [*policies, builtin_default()]
        ordered = []
        for p in sorted(policies, key=specificity):
            try:
                ordered.append((p, compile_pattern(p.pattern)))
            except PatternError:
                continue  # cannot be saved; skip rather than fail a whole round
        return cls(ordered)

    @property
    def policies(self):
        return [p for p, _ in self.ordered]

    def resolve(self, queue):
        for policy, match in self.ordered:
            if policy.is_default or match(queue):
                return policy
        raise AssertionError("the default policy matches every queue")

    def resolve_all(self, queues):
        return {q: self.resolve(q) for q in queues}


def resolve(queue):
    return Resolver.load().resolve(queue)


def matching_queues(pattern, queues):
    match = compile_pattern(pattern)
    return [q for q in queues if pattern == DEFAULT_PATTERN or match(q)]


def env_channel():
    return Channel.objects.filter(system="env").first()


def channels_for(policy):
    """Enabled channels a policy notifies; the default policy falls back to SLACK_WEBHOOK_URL."""
    channels = list(policy.channels.all()) if policy.pk else []
    if not channels and policy.is_default and settings.SLACK_WEBHOOK_URL:
        env = env_channel()
        if env is not None:
            channels = [env]
    return channels


def policy_list():
    resolver = Resolver.load()
    return resolver.policies


def versions(policy):
    return list(policy.versions.select_related("created_by")) if policy.pk else []


def version_with_previous(name, number):
    """(version `number` of policy `name`, the version before it or None); 404 if missing."""
    version = get_object_or_404(PolicyVersion.objects.select_related("policy"), policy__name=name, number=number)
    previous = PolicyVersion.objects.filter(policy=version.policy, number__lt=number).order_by("-number").first()
    return version, previous


def get_policy(name):
    """The policy called `name` (the built-in default when unsaved), or None."""
    found = Policy.objects.filter(name=name).prefetch_related("channels").first()
    if found is None and name == DEFAULT_NAME:
        return builtin_default()
    return found


def channel_list():
    return list(Channel.objects.all())
