"""A redis-py client from one URL.

Supported forms (``[user:]password@`` is optional everywhere, percent-encoded):

``redis://[[user]:password@]host[:port][/db]``
    A single Redis server (port 6379, db 0 by default).
``rediss://...``
    The same over TLS.
``unix:///path/to/redis.sock[?db=N][&password=...]``
    A Unix domain socket.
``redis+sentinel://[[user]:password@]host1:26379[,host2:26379...]/<service>[/db]``
    Redis Sentinel: the sentinels are asked for the current master of
    ``<service>``. The password is the master's; if the sentinels need one of
    their own add ``?sentinel_password=...``. ``rediss+sentinel://`` uses TLS
    to the master.
``redis+cluster://[[user]:password@]host1:port[,host2:port...]``
    Redis Cluster, seeded from the listed nodes (``rediss+cluster://`` for TLS).
    The cluster is contacted at once to learn its slots.

TLS (``rediss``): the server's certificate is verified against the system's CAs,
or the CA file of ``?ssl_ca_certs=/path/ca.pem``; a client certificate is given
with ``ssl_certfile`` / ``ssl_keyfile`` (the same query options in every form).

Every client is built with ``decode_responses=False`` (task payloads are
binary), 2 s connect and socket timeouts so a dead Redis turns into a quick
error instead of a hung page, and redis-py's hiredis parser (picked up
automatically when ``hiredis`` is installed). Keyword arguments override
these and are passed to the client constructor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

from .errors import RedisUnavailable

# TLS options a multi-host URL's query may carry, passed to each connection.
_SSL_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_ca_path")

DEFAULTS = {
    "decode_responses": False,
    "socket_timeout": 2.0,
    "socket_connect_timeout": 2.0,
}

_PLAIN_SCHEMES = ("redis", "rediss", "unix")
_SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
_CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SUPPORTED_SCHEMES = _PLAIN_SCHEMES + _SENTINEL_SCHEMES + _CLUSTER_SCHEMES


@dataclass(frozen=True)
class Target:
    """What a multi-host URL says, before any connection is made."""

    kind: str  # "sentinel" | "cluster"
    hosts: list[tuple[str, int]]
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    service: str | None = None  # sentinel only
    db: int = 0
    options: dict[str, str] = field(default_factory=dict)


def _scheme(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ValueError(f"not a Redis URL (no scheme): {_redact(url)}")
    return scheme.lower()


def _redact(url: str) -> str:
    # Never echo a password back in an error message.
    scheme, sep, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def _parse_hosts(netloc: str, default_port: int) -> list[tuple[str, int]]:
    hosts = []
    for item in netloc.split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("["):  # [IPv6]:port
            host, _, rest = item[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        else:
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        if not host:
            raise ValueError(f"empty host in {netloc!r}")
        try:
            hosts.append((host, int(port) if port else default_port))
        except ValueError:
            raise ValueError(f"bad port in {item!r}") from None
    if not hosts:
        raise ValueError("no host given")
    return hosts


def parse_multi_host_url(url: str) -> Target:
    """Parse a ``redis+sentinel://`` or ``redis+cluster://`` URL."""
    scheme = _scheme(url)
    if scheme in _SENTINEL_SCHEMES:
        kind, default_port = "sentinel", 26379
    elif scheme in _CLUSTER_SCHEMES:
        kind, default_port = "cluster", 6379
    else:
        raise ValueError(f"not a sentinel or cluster URL: {_redact(url)}")
    # urlsplit cannot read "h1:p1,h2:p2", so only the path/query are its job.
    parts = urlsplit(url)
    netloc = parts.netloc
    username = password = None
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, sep, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if sep else None
    hosts = _parse_hosts(netloc, default_port)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    segments = [unquote(s) for s in parts.path.split("/") if s]
    service, db = None, 0
    if kind == "sentinel":
        if not segments:
            raise ValueError("sentinel URL needs the service (master) name: "
                             "redis+sentinel://host:26379/<service>[/db]")
        service = segments[0]
        rest = segments[1:]
    else:
        rest = segments
    if rest:
        if len(rest) > 1 or not rest[0].isdigit():
            raise ValueError(f"bad db in {_redact(url)}")
        db = int(rest[0])
    if kind == "cluster" and db != 0:
        raise ValueError("Redis Cluster has only db 0")
    return Target(
        kind=kind,
        hosts=hosts,
        ssl=scheme.startswith("rediss"),
        username=username,
        password=password,
        service=service,
        db=db,
        options=options,
    )


def connect(url: str, **kw):
    """Return a redis-py client for ``url`` (see the module docstring)."""
    scheme = _scheme(url)
    options = {**DEFAULTS, **kw}
    if scheme in _PLAIN_SCHEMES:
        return redis.Redis.from_url(url, **options)
    if scheme in _SENTINEL_SCHEMES:
        return _connect_sentinel(parse_multi_host_url(url), options)
    if scheme in _CLUSTER_SCHEMES:
        return _connect_cluster(parse_multi_host_url(url), options)
    raise ValueError(
        f"unsupported Redis URL scheme {scheme!r}; use one of "
        + ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES)
    )


def _connect_sentinel(target: Target, options: dict):
    sentinel_kwargs = {
        "socket_timeout": options["socket_timeout"],
        "socket_connect_timeout": options["socket_connect_timeout"],
    }
    if "sentinel_password" in target.options:
        sentinel_kwargs["password"] = target.options["sentinel_password"]
    if "sentinel_username" in target.options:
        sentinel_kwargs["username"] = target.options["sentinel_username"]
    master_kwargs = dict(options)
    if target.ssl:
        master_kwargs.setdefault("ssl", True)
        for name in _SSL_OPTIONS:
            if name in target.options:
                master_kwargs.setdefault(name, target.options[name])
    if target.password is not None:
        master_kwargs.setdefault("password", target.password)
    if target.username is not None:
        master_kwargs.setdefault("username", target.username)
    # Sentinel() connects lazily: the master is looked up on first command.
    sentinel = Sentinel(target.hosts, sentinel_kwargs=sentinel_kwargs)
    return sentinel.master_for(target.service, db=target.db, **master_kwargs)


def _connect_cluster(target: Target, options: dict):
    cluster_kwargs = dict(options)
    if target.ssl:
        cluster_kwargs.setdefault("ssl", True)
        for name in _SSL_OPTIONS:
            if name in target.options:
                cluster_kwargs.setdefault(name, target.options[name])
    if target.password is not None:
        cluster_kwargs.setdefault("password", target.password)
    if target.username is not None:
        cluster_kwargs.setdefault("username", target.username)
    nodes = [ClusterNode(host, port) for host, port in target.hosts]
    try:
        # RedisCluster asks the seed nodes for the slot map right here.
        return RedisCluster(startup_nodes=nodes, **cluster_kwargs)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
            redis.exceptions.RedisClusterException) as exc:
        from .scripts import unavailable

        raise unavailable(exc) from exc
