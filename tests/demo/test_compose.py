"""docker is not available in CI: check the compose file's shape with YAML alone."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_services_and_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "scheduler", "demo-seed"} <= set(services)
    for name in ("postgres", "redis", "web", "scheduler"):
        assert services[name]["healthcheck"]["test"], name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "gunicorn" in services["web"]["command"]
    assert services["scheduler"]["command"] == ["python", "manage.py", "run_scheduler"]
    assert services["demo-seed"]["profiles"] == ["demo"] and "seed_demo" in services["demo-seed"]["command"]
    for name in ("web", "scheduler", "demo-seed"):  # the shared app block was merged in
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["build"] == "."


def test_web_is_served_by_gunicorn_conf_with_keep_alive_workers():
    """Compose and the image leave gunicorn's settings to gunicorn.conf.py: threaded workers
    (a sync worker closes every connection), sized from the environment."""
    import runpy

    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["worker_class"] == "gthread" and conf["threads"] >= 2 and conf["keepalive"] > 0
    assert conf["bind"] == "0.0.0.0:8000" and conf["workers"] >= 1
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    assert "--workers" not in web["command"] and "--worker-class" not in web["command"]
    assert "WEB_CONCURRENCY" in web["environment"] and "DATABASE_URL" in web["environment"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "dlqadmin.wsgi:application"]' in dockerfile


def test_worker_init_freezes_the_loaded_app_and_keeps_default_collection():
    """post_worker_init moves what was loaded out of the collector's way and leaves the
    young generation at Python's threshold (a rarer collection let garbage pile up per
    worker; bench/README.md). Run in a child process: it changes the process's collector."""
    import subprocess
    import sys

    code = (
        "import gc, runpy, sys\n"
        f"conf = runpy.run_path({str(ROOT / 'gunicorn.conf.py')!r})\n"
        "before = gc.get_threshold()\n"
        "conf['post_worker_init'](None)\n"
        "assert gc.get_freeze_count() > 0, 'nothing frozen'\n"
        "assert gc.get_threshold() == before, gc.get_threshold()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_grafana_dashboard_uses_exported_metrics():
    import json

    dashboard = json.loads((ROOT / "grafana" / "dlqadmin-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for metric in ("asynq_tasks_enqueued_total", "asynq_queue_size", "asynq_queue_latency_seconds",
                   "asynq_queue_memory_usage_approx_bytes", "asynq_tasks_processed_total",
                   "asynq_tasks_failed_total", "asynq_queue_paused_total", "dlqadmin_alerts_firing",
                   "dlqadmin_notifications_total", "dlqadmin_actions_total"):
        assert metric in exprs, metric
