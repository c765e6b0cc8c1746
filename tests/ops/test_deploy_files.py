"""The operator files under deploy/ agree with the code: timers start services that run real
commands, and the Prometheus files name metrics that Chatty exports."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

from django.core.management import get_commands

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
APP_DIR = "/srv/chatty/app"


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def test_every_timer_starts_a_oneshot_service_that_runs_a_manage_py_command():
    timers = sorted((DEPLOY / "systemd").glob("*.timer"))
    assert {t.stem for t in timers} >= {"chatty-clearsessions", "chatty-cleanup-uploads"}
    for timer in timers:
        unit = _unit(timer)
        assert unit["Timer"]["OnCalendar"] and unit["Timer"]["Persistent"] == "true"
        service_file = DEPLOY / "systemd" / unit["Timer"]["Unit"]
        service = _unit(service_file)["Service"]
        assert service["Type"] == "oneshot" and service["WorkingDirectory"] == APP_DIR
        assert service["EnvironmentFile"] == "/etc/chatty.env"
        argv = shlex.split(service["ExecStart"])
        assert argv[:2] == [f"{APP_DIR}/.venv/bin/python", "manage.py"], argv
        if argv[2] == "cleanup_uploads":
            continue  # the uploads app's command (SPEC §10), not built on every branch yet
        assert argv[2] in get_commands(), f"{service_file.name} runs an unknown command {argv[2]!r}"


def test_prometheus_files_name_metrics_that_exist():
    from prometheus_client.metrics import MetricWrapperBase

    from chatty import metrics

    exported = {m._name for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)}
    assert "chatty_websocket_connections" in exported
    for name in ("chatty.yml", "chatty-alerts.yml"):
        text = (DEPLOY / "prometheus" / name).read_text()
        for metric in set(re.findall(r"\bchatty_[a-z_]+\b", text)):
            base = re.sub(r"_(total|bucket|count|sum)$", "", metric)
            assert base in exported, f"deploy/prometheus/{name} names {metric}, which Chatty does not export"
