"""Prometheus and promtool for tests: find the binaries, run a real Prometheus, read PromQL.

The binaries come from Debian's ``prometheus`` package (``deploy/prometheus/install.sh``). A
test that needs one skips when it is missing, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.waiting import eventually
from tests.support.worker_process import free_port

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.rules.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
DASHBOARD_DIR = REPO / "deploy" / "grafana" / "dashboards"


class QueryError(Exception):
    """Prometheus refused a query (bad PromQL, or an execution error): never retried."""


def require_binary(name: str) -> str:
    """The path of ``name``; skip when missing, but fail in CI (the setup installs it)."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not on PATH: run deploy/prometheus/install.sh (Debian package prometheus)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run this test")
    pytest.skip(message)


# --- PromQL -----------------------------------------------------------------------------------

_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "start", "end", "atan2"}
)


def promql_metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (not functions, labels, keywords, durations)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"'(?:[^'\\]|\\.)*'", "''", s)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        word = match.group(0)
        before = s[match.start() - 1] if match.start() else " "
        if before.isalnum() or before == ".":  # part of a number or a duration (15m, 1e3)
            continue
        if s[match.end() :].lstrip().startswith("("):  # a function call
            continue
        if word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


# --- A real Prometheus --------------------------------------------------------------------------


def prometheus_config(
    *, targets: list[str], rule_files: list[Path], interval_s: float = 1.0
) -> dict[str, Any]:
    """A Prometheus configuration (YAML is a superset of JSON: we write it as JSON)."""
    interval = f"{int(interval_s * 1000)}ms"
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [],
    }
    if targets:
        config["scrape_configs"].append(
            {
                "job_name": "patrolflow",
                "metrics_path": "/metrics",
                "scrape_timeout": interval,
                "static_configs": [{"targets": targets}],
            }
        )
    return config


@dataclass
class PrometheusProcess:
    """``prometheus`` on 127.0.0.1 and a free port, with its storage in ``workdir``."""

    workdir: Path
    config: dict[str, Any]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def start(self) -> None:
        binary = require_binary("prometheus")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(json.dumps(self.config, indent=2))
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "<no log>"

    async def get(self, path: str, **params: str) -> Any:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.get(self.url + path, params=params) as resp,
        ):
            body = await resp.text()
            if resp.status >= 500 or "json" not in resp.content_type:
                raise AssertionError(f"GET {path} {params}: {resp.status} {body[:500]}")
            return json.loads(body)

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        async def probe() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"prometheus exited {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                async with (
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
                    http.get(self.url + "/-/ready") as resp,
                ):
                    return resp.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False

        await eventually(probe, timeout_s=timeout_s, what="prometheus /-/ready")

    async def query(self, expr: str) -> dict[str, Any]:
        """The ``data`` of an instant query; ``QueryError`` with Prometheus' error if it has one."""
        answer = await self.get("/api/v1/query", query=expr)
        if answer.get("status") != "success":
            raise QueryError(f"{expr}: {answer.get('errorType')}: {answer.get('error')}")
        data: dict[str, Any] = answer["data"]
        return data

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._log.close()


def has_data(data: dict[str, Any]) -> bool:
    """An instant query's result holds at least one sample."""
    result = data.get("result")
    if data.get("resultType") == "scalar":
        return result is not None
    return bool(result)
