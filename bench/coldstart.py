"""`python -m bench coldstart [--runs N] [--functions a,b]`: how long a new instance of each function
takes from a fresh interpreter to its first answer (issue 7.4).

Per run, a new Python process loads `functions/<name>/main.py` the way Cloud Run's functions-framework
does (`functions_framework.aio.create_asgi_app`, the same app object it serves) and answers one
`GET /healthz` through that ASGI app, in process (no socket). /healthz is the cheapest real route: it
reads the settings, opens the database pool and runs `SELECT 1` on a local PostgreSQL (loopback), which
any first request pays too; it needs no token, so what a user or scheduler route loads on its first
call (JWT, google-auth) is not counted.

Prints one JSON line per function, after one for the framework's own floor:
{"bench": "coldstart.<function>", "runs": N, "p50_ms", "p95_ms", "import_ms", "cpu_ms", "over_floor_ms",
 "request": "GET /healthz", "target": "...", "met": true|false}
The floor (`coldstart.floor`) is the same run of a function that only answers 200: the interpreter,
functions-framework (it imports Flask and Werkzeug even for ASGI functions) and Starlette, no code of ours.
The runs go round robin over the floor and the functions (the machine's speed drifts over minutes).
`over_floor_ms` is a function's p50 minus the floor's: what our code and its first database query cost.
`p50_ms`/`p95_ms`: from starting the process to the answer; `import_ms` (median): loading the entry
point, framework included, measured inside the process (interpreter start-up excluded); `cpu_ms`
(median): the CPU time the process used up to the answer, which other load on the machine barely
changes (the wall-clock figures it does).
Targets (`target`, `met`): every function p50 <= 700 ms, and publish-due at most 200 ms over the
floor. The issue asked for publish-due p50 <= 400 ms, but on this machine the floor alone takes
300-330 ms and importing psycopg about 100 ms more, before any code of ours runs. The issue measured
functions-framework's import at 157 ms and a bare interpreter at 30 ms, so its 400 ms left our code
about 210 ms above the framework: that budget is the target here.
Uses DATABASE_URL (a server it may create a database on) or starts an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._db import ROOT, database

FUNCTIONS = ROOT / "functions"
TARGET_P50_MS = 700.0
TARGET_OVER_FLOOR_MS = {"publish-due": 200.0}

# Runs in the fresh interpreter: argv = target, source, the parent's clock at spawn, result file.
CHILD = """
import time
started = time.perf_counter()
import asyncio, json, sys
from functions_framework.aio import create_asgi_app
app = create_asgi_app(sys.argv[1], sys.argv[2])
loaded = time.perf_counter()

async def get(path):
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8080)}
    await app(scope, receive, send)
    return sent[0]["status"]

# Not asyncio.run: its clean-up would wait for the pool's background connection tasks.
status = asyncio.new_event_loop().run_until_complete(get("/healthz"))
answered, cpu = time.time(), time.process_time()
with open(sys.argv[4], "w") as out:
    json.dump({"status": status, "import_ms": (loaded - started) * 1000,
               "total_ms": (answered - float(sys.argv[3])) * 1000, "cpu_ms": cpu * 1000}, out)
import os
os._exit(0)  # the measurement is done; interpreter teardown (pool threads, atexit) is not part of it
"""

# What Terraform gives every function (infra/functions.tf), with stand-in secret values.
ENVIRONMENT = {
    "LOG_EXECUTION_ID": "true",
    "LOG_LEVEL": "INFO",
    "STORAGE_BACKEND": "local",
    "SUPABASE_URL": "http://127.0.0.1:9",
    "SUPABASE_JWT_SECRET": "bench-coldstart-jwt-secret-long-enough",
    "SCHEDULER_SECRET": "bench-coldstart-scheduler-secret",
    "WEBHOOK_SECRET": "bench-coldstart-webhook-secret",
    "URL_SIGNING_KEY": "bench-coldstart-url-signing-key",
    "DB_POOL_MAX_SIZE": "2",
}


# The floor: functions-framework serving a function that does nothing.
FLOOR_SOURCE = """
import functions_framework.aio
from starlette.responses import Response


@functions_framework.aio.http
async def floor(request):
    return Response("ok")
"""


def one_run(name: str, env: dict[str, str], scratch: Path) -> dict[str, float]:
    main = FUNCTIONS / name / "main.py"
    if name == "floor":
        main = scratch / "floor_main.py"
        main.write_text(FLOOR_SOURCE)
    result = scratch / f"{name}.json"
    spawned = time.time()
    args = [sys.executable, "-c", CHILD, name.replace("-", "_"), str(main), repr(spawned), str(result)]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603 (our own code)
    if done.returncode != 0 or not result.exists():
        raise RuntimeError(f"{name}: the run failed\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    measured: dict[str, float] = json.loads(result.read_text())
    result.unlink()
    if measured["status"] != 200:
        raise RuntimeError(f"{name}: /healthz answered {measured['status']}\n{done.stdout[-3000:]}")
    return measured


def target(name: str, p50: float, over_floor: float) -> dict[str, object]:
    """The bench's target for `name` as text, and whether this run met it (the floor has none)."""
    if name == "floor":
        return {}
    goals, met = [f"p50_ms <= {TARGET_P50_MS:g}"], p50 <= TARGET_P50_MS
    if name in TARGET_OVER_FLOOR_MS:
        goals.append(f"over_floor_ms <= {TARGET_OVER_FLOOR_MS[name]:g}")
        met = met and over_floor <= TARGET_OVER_FLOOR_MS[name]
    return {"target": " and ".join(goals), "met": met}


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench coldstart")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--functions", help="comma-separated names (default: every folder of functions/)")
    args = parser.parse_args(argv)
    names = args.functions.split(",") if args.functions else sorted(p.parent.name for p in FUNCTIONS.glob("*/main.py"))
    # Cloud Run's Python buildpack byte-compiles the function's source when it builds the image
    # (`python3 -m compileall -f -q .`), so an instance starts from .pyc files; so does each run here.
    for folder in ("shared", "functions"):
        compileall.compile_dir(ROOT / folder, quiet=1)
    with database("bench_coldstart") as url, tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, **ENVIRONMENT, "DATABASE_URL": url, "STORAGE_LOCAL_DIR": scratch}
        # Round robin, the floor included: this machine's speed drifts over minutes, and each function's
        # runs should meet the same drift as the floor's.
        measured: dict[str, list[dict[str, float]]] = {name: [] for name in ["floor", *names]}
        for _ in range(args.runs):
            for name, runs in measured.items():
                runs.append(one_run(name, env, Path(scratch)))
        floor_p50 = statistics.median(run["total_ms"] for run in measured["floor"])
        for name, runs in measured.items():
            totals = [run["total_ms"] for run in runs]
            p50 = statistics.median(totals)
            over_floor = p50 - floor_p50
            line = {
                "bench": f"coldstart.{name}",
                "runs": len(runs),
                "p50_ms": round(p50, 1),
                "p95_ms": round(nearest_rank(totals, 0.95), 1),
                "import_ms": round(statistics.median(run["import_ms"] for run in runs), 1),
                "cpu_ms": round(statistics.median(run["cpu_ms"] for run in runs), 1),
                "over_floor_ms": round(over_floor, 1),
                "request": "GET /healthz",
                **target(name, p50, over_floor),
            }
            print(json.dumps(line), flush=True)
    return 0
