"""Plumbing shared by the Inspector, Operations and search: our Lua scripts run by
EVALSHA (loaded on NOSCRIPT), one-round-trip pipelines, the clock, and turning Redis
failures into this package's errors."""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
from pathlib import Path
from typing import Callable

import redis
from redis.cluster import RedisCluster

from .errors import AsynqError, DamagedData, PermissionRefused, RedisUnavailable

UTC = _dt.UTC
_LUA_DIR = Path(__file__).with_name("lua")


class _Script:
    """A Lua file run by EVALSHA, loaded on demand (NOSCRIPT)."""

    def __init__(self, name: str):
        self.name = name
        self.source = (_LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")
        self.sha = hashlib.sha1(self.source.encode("utf-8")).hexdigest()

    def args(self, keys_: list, argv: list) -> tuple:
        return ("EVALSHA", self.sha, len(keys_), *keys_, *argv)


_UNAVAILABLE = (
    redis.exceptions.ConnectionError,  # includes BusyLoading, MasterNotFound
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    # A cluster slot being migrated: its keys are on two nodes for a moment
    # (TRYAGAIN, or more ASK/MOVED redirections than the client follows at once).
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterError,
)


def is_damage(exc) -> bool:
    """An error reply that says the data is damaged, not that Redis failed: a key of
    the wrong type, or our scripts' DAMAGED reply."""
    text = str(exc)
    return text.startswith(("WRONGTYPE", "DAMAGED")) or "WRONGTYPE" in text


def damage_text(exc) -> str:
    text = str(exc)
    if text.startswith("DAMAGED "):
        text = text[len("DAMAGED "):]
    return text if len(text) <= 300 else text[:299] + "…"


def unavailable(exc: Exception) -> RedisUnavailable:
    """The RedisUnavailable for a connection failure, saying plainly when TLS
    verification was the reason."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return RedisUnavailable(
            "Redis TLS certificate not trusted: the server's certificate is not signed by "
            f"the CA in use (set ssl_ca_certs in the URL): {text}")
    return RedisUnavailable(f"Redis unreachable: {text}")


def _wrap_unavailable(method):
    """Turn Redis connection failures into RedisUnavailable, and any other
    Redis error reply (a key of the wrong type, an ACL refusal...) into
    AsynqError, so callers only ever handle this package's errors."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except _UNAVAILABLE as exc:
            raise unavailable(exc) from exc
        except redis.exceptions.NoPermissionError as exc:
            raise PermissionRefused(str(exc)) from exc
        except redis.exceptions.ResponseError as exc:
            # Inside a script Redis 7 reports an ACL refusal as a plain ERR.
            if "user executing the script can't run" in str(exc):
                raise PermissionRefused(str(exc)) from exc
            if is_damage(exc):
                raise DamagedData(damage_text(exc)) from exc
            raise AsynqError(f"Redis error: {exc}") from exc
        except redis.exceptions.RedisClusterException as exc:
            # A queue whose name starts with "}" has no hash tag (asynq:{}...}:):
            # its keys spread over slots, so no script can take them together;
            # asynq's own scripts cannot either. The queue's pages say so.
            raise AsynqError(f"Redis Cluster cannot serve this queue: {exc}") from exc
        except redis.exceptions.RedisError as exc:
            raise AsynqError(f"Redis error: {exc}") from exc

    return wrapper


class ScriptClient:
    """A redis-py client plus a clock; subclasses name their scripts in _scripts()."""

    def __init__(self, client, now: Callable[[], _dt.datetime] | None = None):
        self._client = client
        # In Redis Cluster a script may only touch keys of one slot, and
        # asynq:queues lives in another slot than a queue's keys.
        self._cluster = isinstance(client, RedisCluster)
        self._now_fn = now or (lambda: _dt.datetime.now(UTC))

    @property
    def client(self):
        return self._client

    def _now(self) -> _dt.datetime:
        value = self._now_fn()
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def _scripts(self) -> tuple:
        return ()

    def _load_scripts(self) -> None:
        for script in self._scripts():
            self._client.script_load(script.source)

    def _script(self, script: _Script, keys_: list, argv: list):
        """One EVALSHA, loading our scripts once on NOSCRIPT."""
        command = script.args(keys_, argv)
        try:
            return self._client.execute_command(*command)
        except redis.exceptions.NoScriptError:
            self._load_scripts()
            return self._client.execute_command(*command)

    def _pipeline(self, commands: list[tuple], *, damage_ok: bool = False) -> list:
        """Run commands in one round trip; load our scripts once on NOSCRIPT.
        With ``damage_ok`` a damaged-data error reply (see ``is_damage``) is returned
        in its slot instead of raised, so one bad queue does not fail the others."""
        for attempt in range(2):
            pipe = self._client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            results = pipe.execute(raise_on_error=False)
            if attempt == 0 and any(isinstance(r, redis.exceptions.NoScriptError) for r in results):
                self._load_scripts()
                continue
            for r in results:
                if isinstance(r, Exception) and not (damage_ok and is_damage(r)):
                    raise r
            return results
        raise AssertionError("unreachable")
