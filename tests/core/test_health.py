import pytest
from django.db import connection


def test_healthz_answers_without_database(client):
    response = client.get("/healthz")  # no django_db mark: any query would fail the test
    assert response.status_code == 200 and response.content == b"ok\n"


@pytest.mark.django_db
def test_readyz_ok_when_postgres_and_redis_answer(client, asynq_redis):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


@pytest.mark.django_db
def test_readyz_names_redis_when_down(client, redis_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"postgres": "ok", "redis": "unreachable"}


@pytest.mark.django_db
def test_readyz_names_postgres_when_down(client, asynq_redis, monkeypatch):
    def broken(*args, **kwargs):
        raise connection.Database.OperationalError("no route to host")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"postgres": "unreachable", "redis": "ok"}


def test_probes_are_get_only(client):
    assert client.post("/healthz").status_code == 405
