"""connect(): one URL -> a redis-py client (built without a live server where
the client type allows it)."""

from __future__ import annotations

import socket

import pytest
import redis
from redis.sentinel import SentinelConnectionPool

from dlqadmin.asynq import RedisUnavailable, connect
from dlqadmin.asynq.connection import parse_multi_host_url

from .conftest import TEST_REDIS_URL


def test_plain_url_defaults():
    client = connect("redis://:s3cret@127.0.0.1:6390/4")
    kw = client.connection_pool.connection_kwargs
    assert isinstance(client, redis.Redis)
    assert (kw["host"], kw["port"], kw["db"], kw["password"]) == ("127.0.0.1", 6390, 4, "s3cret")
    assert kw["decode_responses"] is False
    assert kw["socket_timeout"] == 2.0 and kw["socket_connect_timeout"] == 2.0


def test_keyword_overrides():
    client = connect("redis://127.0.0.1/0", socket_timeout=0.5, client_name="dlqadmin")
    kw = client.connection_pool.connection_kwargs
    assert kw["socket_timeout"] == 0.5 and kw["client_name"] == "dlqadmin"


def test_tls_url():
    client = connect("rediss://user:pw@redis.example:6380/1")
    pool = client.connection_pool
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["username"] == "user"


def test_unix_socket_url():
    client = connect("unix:///run/redis/redis.sock?db=3")
    kw = client.connection_pool.connection_kwargs
    assert client.connection_pool.connection_class is redis.UnixDomainSocketConnection
    assert kw["path"] == "/run/redis/redis.sock" and kw["db"] == 3


def test_real_connection_uses_hiredis_and_bytes(r):
    conn = r.connection_pool.get_connection()
    try:
        assert type(conn._parser).__name__ == "_HiredisParser"
    finally:
        r.connection_pool.release(conn)
    r.set(b"k", b"\xff\x00")
    assert r.get(b"k") == b"\xff\x00"  # bytes, never decoded


def test_sentinel_url_parsing():
    t = parse_multi_host_url(
        "redis+sentinel://:p%40ss@s1:26379,s2,[::1]:26380/mymaster/2?sentinel_password=sp"
    )
    assert t.kind == "sentinel" and t.service == "mymaster" and t.db == 2
    assert t.hosts == [("s1", 26379), ("s2", 26379), ("::1", 26380)]
    assert t.password == "p@ss" and t.username is None
    assert t.options == {"sentinel_password": "sp"} and t.ssl is False


def test_sentinel_client_is_lazy():
    client = connect("rediss+sentinel://u:pw@127.0.0.1:26379/mymaster/3?sentinel_password=sp")
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "mymaster"
    assert pool.connection_kwargs["db"] == 3
    assert pool.connection_kwargs["password"] == "pw"
    assert pool.connection_kwargs["username"] == "u"
    assert pool.connection_class.__name__ == "SentinelManagedSSLConnection"
    sentinel = pool.sentinel_manager.sentinels[0]
    assert sentinel.connection_pool.connection_kwargs["password"] == "sp"


def test_cluster_url_parsing():
    t = parse_multi_host_url("redis+cluster://:pw@n1:7000,n2:7001")
    assert t.kind == "cluster" and t.hosts == [("n1", 7000), ("n2", 7001)]
    assert t.password == "pw" and t.db == 0 and t.service is None
    assert parse_multi_host_url("rediss+cluster://n1").hosts == [("n1", 6379)]
    assert parse_multi_host_url("rediss+cluster://n1").ssl is True


def test_cluster_unreachable_is_redis_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RedisUnavailable, match="^Redis unreachable"):
        connect(f"redis+cluster://127.0.0.1:{port}", socket_connect_timeout=0.5)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://localhost:6379", "unsupported Redis URL scheme 'http'"),
        ("memcached://localhost", "unsupported Redis URL scheme"),
        ("localhost:6379", "no scheme"),
        ("redis+sentinel://s1:26379", "service"),
        ("redis+sentinel://s1:26379/master/x", "bad db"),
        ("redis+cluster://n1:7000/1", "only db 0"),
        ("redis+cluster://n1:port", "bad port"),
        ("redis+cluster://", "no host"),
    ],
)
def test_bad_urls(url, message):
    with pytest.raises(ValueError, match=message):
        connect(url)


def test_errors_do_not_echo_passwords():
    with pytest.raises(ValueError) as info:
        connect("redis+sentinel://:topsecret@s1:26379")
    assert "topsecret" not in str(info.value)


def test_test_db_is_not_db_zero():
    # The suite flushes its DB: make sure it is not someone's default DB.
    assert not TEST_REDIS_URL.rstrip("/").endswith(":6379") and not TEST_REDIS_URL.endswith("/0")
