"""`python -m bench intake_memory`: the `assets` server's peak memory while it takes 4 concurrent
worst-case-but-legal uploads of each format.

For every case and run, a fresh server process serves the real `assets` function (its
functions-framework app under uvicorn, as `make run` does) with a real database and local storage.
Small files of every format are uploaded first (imports, codecs, the database pool); then the
server's peak RSS is reset (`/proc/<pid>/clear_refs`), 4 uploads of the case's file are sent at
once over HTTP, each to its own workspace (so none is a duplicate), and the peak is read (`VmHWM`).
Prints one JSON line per case, with the median of the runs:

    {"bench": "intake_memory.png", "file": "7070x7070 8-bit RGBA PNG ...", "megapixels": 50.0,
     "file_mib": 0.7, "concurrency": 4, "peak_rss_delta_mib": 363.1, "runs_mib": [...],
     "seconds": 9.8, "statuses": [201, 201, 201, 201], "expected_status": 201, "target_mib": 600, "ok": true}

`ok`: every upload got the expected status and the median is within `target_mib`. The exit code is
1 when a case is not ok. Options: `--runs N` (3), `--case NAME` (repeatable; default all:
`--list` names them), `--concurrency N` (4), `--files DIR` (keep the generated files there and
reuse them). Linux only (reads the server's /proc entries).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import psycopg
from PIL import Image

from bench._db import ROOT, database
from bench.compose import sample_picture

TARGET_MIB = 600
JWT_SECRET = "bench-intake-memory-jwt-secret-long-enough"


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    size: tuple[int, int]
    make: Callable[[tuple[int, int]], bytes]
    expected_status: int = 201


def _jpeg(size: tuple[int, int], **params: object) -> bytes:
    out = io.BytesIO()
    sample_picture(*size).save(out, "JPEG", quality=92, **params)
    return out.getvalue()


def _rgba(size: tuple[int, int]) -> Image.Image:
    picture = sample_picture(*size, noise=0).convert("RGBA")
    picture.putalpha(Image.linear_gradient("L").resize(size).point(lambda v: 64 + v * 3 // 4))
    return picture


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    _rgba(size).save(out, "PNG", compress_level=6)
    return out.getvalue()


def _png_16bit(size: tuple[int, int]) -> bytes:
    """16-bit RGBA (Pillow cannot write one): each 8-bit sample v becomes v * 257, row by row."""
    width, height = size
    raw = _rgba(size).tobytes()
    compressor = zlib.compressobj(6)
    parts = []
    for y in range(height):
        row = raw[y * width * 4 : (y + 1) * width * 4]
        wide = bytearray(2 * len(row))
        wide[0::2], wide[1::2] = row, row
        parts.append(compressor.compress(b"\x00" + bytes(wide)))
    parts.append(compressor.flush())
    return _png_file(size, bit_depth=16, color_type=6, idat=b"".join(parts))


def _png_palette(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    sample_picture(*size, noise=0).convert("P", dither=Image.Dither.NONE).save(out, "PNG")
    return out.getvalue()


def _webp(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    _rgba(size).save(out, "WEBP", quality=90)
    return out.getvalue()


def _heic(size: tuple[int, int], *, ten_bit: bool = False) -> bytes:
    import pillow_heif

    picture = sample_picture(*size)
    if ten_bit:
        raw = picture.tobytes()
        wide = bytearray(2 * len(raw))  # little-endian 16-bit samples, v << 8
        wide[1::2] = raw
        heif = pillow_heif.from_bytes("RGB;16", size, bytes(wide))
    else:
        heif = pillow_heif.from_pillow(picture)
    out = io.BytesIO()
    heif.save(out, quality=60, tile_size=512)  # a grid of 512 px tiles, as phones write them
    return out.getvalue()


def _png_file(size: tuple[int, int], *, bit_depth: int, color_type: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = size[0].to_bytes(4, "big") + size[1].to_bytes(4, "big") + bytes([bit_depth, color_type, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


CASES = [
    Case("jpeg_12mp", "4032x3024 baseline JPEG, a 12 MP phone photo", (4032, 3024), _jpeg),
    Case("jpeg", "8160x6120 baseline JPEG, a 50 MP phone photo", (8160, 6120), _jpeg),
    Case(
        "jpeg_progressive",
        "6690x4480 progressive 4:4:4 JPEG, at its 30 MP ceiling (the most expensive JPEG accepted)",
        (6690, 4480),
        lambda size: _jpeg(size, progressive=True, subsampling=0),
    ),
    Case("png", "7070x7070 8-bit RGBA PNG, at PNG's 50 MP ceiling", (7070, 7070), _png),
    Case("png_16bit", "7070x7070 16-bit RGBA PNG", (7070, 7070), _png_16bit),
    Case("png_palette", "7070x7070 palette PNG", (7070, 7070), _png_palette),
    Case(
        "png_over_ceiling",
        "8900x8900 RGBA PNG (79 MP, the file of issue 9): refused from its header",
        (8900, 8900),
        _png,
        expected_status=422,
    ),
    Case("webp", "4000x3000 RGBA WebP, at WebP's 12 MP ceiling", (4000, 3000), _webp),
    Case("heic", "8320x6240 8-bit HEIC, at HEIC's 52 MP ceiling", (8320, 6240), _heic),
    Case(
        "heic_10bit", "8320x6240 10-bit HEIC, at HEIC's 52 MP ceiling", (8320, 6240), lambda s: _heic(s, ten_bit=True)
    ),
]


def _warmup_files() -> list[tuple[str, bytes]]:
    """One small file of every kind the cases use, so codecs and pools exist before measuring."""
    small = (640, 480)
    return [
        ("warm.jpg", _jpeg(small)),
        ("warm-progressive.jpg", _jpeg(small, progressive=True, subsampling=0)),
        ("warm.png", _png(small)),
        ("warm-16.png", _png_16bit(small)),
        ("warm-palette.png", _png_palette(small)),
        ("warm.webp", _webp(small)),
        ("warm.heic", _heic(small)),
        ("warm-10.heic", _heic(small, ten_bit=True)),
    ]


# --- the server (a child process) ---------------------------------------------------------------


def _serve() -> int:
    import uvicorn

    from sociallab.dev.loader import load_function

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    app = load_function(ROOT / "functions" / "assets" / "main.py").app
    print(sock.getsockname()[1], flush=True)  # the parent waits for this line
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])
    return 0


def _mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} is not in /proc/{pid}/status")


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


# --- the client (this process) ------------------------------------------------------------------


def _workspaces(url: str, count: int) -> list[tuple[str, str]]:
    """`count` new workspaces, each with an editor: [(workspace id, user id)]."""
    pairs = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(count)]
    with psycopg.connect(url, autocommit=True) as conn:
        for workspace_id, user_id in pairs:
            conn.execute("INSERT INTO workspaces (id, name) VALUES (%(w)s::uuid, 'Bench FC')", {"w": workspace_id})
            conn.execute(
                "INSERT INTO auth.users (id, email) VALUES (%(u)s::uuid, %(e)s::text)",
                {"u": user_id, "e": f"{user_id}@bench.local"},
            )
            conn.execute(
                "INSERT INTO workspace_members (workspace_id, user_id, role)"
                " VALUES (%(w)s::uuid, %(u)s::uuid, 'editor')",
                {"w": workspace_id, "u": user_id},
            )
    return pairs


def _token(user_id: str) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 3600}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


async def _upload(client: httpx.AsyncClient, workspace: tuple[str, str], name: str, data: bytes) -> httpx.Response:
    workspace_id, user_id = workspace
    return await client.post(
        "/",
        data={"workspace_id": workspace_id},
        files={"file": (name, data, "application/octet-stream")},
        headers={"Authorization": f"Bearer {_token(user_id)}"},
    )


def _run_once(url: str, data: bytes, name: str, concurrency: int, warmup: list[tuple[str, bytes]], tmp: Path) -> dict:
    storage = tempfile.mkdtemp(dir=tmp)
    env = os.environ | {
        "DATABASE_URL": url,
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "STORAGE_BACKEND": "local",
        "STORAGE_LOCAL_DIR": storage,
        "URL_SIGNING_KEY": "bench-url-signing-key",
        "RATE_LIMIT_PER_MINUTE": "100000",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "bench", "intake_memory", "--serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        warm, *targets = _workspaces(url, concurrency + 1)

        async def measure() -> dict:
            async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:
                for warm_name, warm_data in warmup:
                    response = await _upload(client, warm, warm_name, warm_data)
                    assert response.status_code == 201, response.text
                baseline = _mib(server.pid, "VmRSS")
                _reset_peak(server.pid)
                started = time.perf_counter()
                responses = await asyncio.gather(*(_upload(client, target, name, data) for target in targets))
                seconds = time.perf_counter() - started
                return {
                    "delta": _mib(server.pid, "VmHWM") - baseline,
                    "seconds": seconds,
                    "baseline": baseline,
                    "statuses": [r.status_code for r in responses],
                    "errors": sorted({r.json()["error"]["message"] for r in responses if r.status_code >= 400}),
                }

        return asyncio.run(measure())
    finally:
        server.terminate()
        server.wait(timeout=60)


def _case_file(case: Case, folder: Path | None) -> bytes:
    if folder is None:
        return case.make(case.size)
    path = folder / f"{case.name}-{case.size[0]}x{case.size[1]}.bin"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.make(case.size))
    return path.read_bytes()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench intake_memory")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--case", action="append", choices=[c.name for c in CASES])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--files", type=Path, help="keep the generated files here and reuse them (HEICs take minutes)")
    parser.add_argument("--list", action="store_true", help="name the cases and stop")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args(argv)
    if args.serve:
        return _serve()
    if args.list:
        for case in CASES:
            print(f"{case.name}: {case.description}")
        return 0
    cases = [c for c in CASES if not args.case or c.name in args.case]
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-intake-memory-") as tmp, database("bench_intake_memory") as url:
        warmup = _warmup_files()
        for case in cases:
            data = _case_file(case, args.files)
            runs = [
                _run_once(url, data, f"{case.name}.bin", args.concurrency, warmup, Path(tmp)) for _ in range(args.runs)
            ]
            median = statistics.median(r["delta"] for r in runs)
            statuses = [s for r in runs for s in r["statuses"]]
            ok = median <= TARGET_MIB and all(s == case.expected_status for s in statuses)
            failed = failed or not ok
            line = {
                "bench": f"intake_memory.{case.name}",
                "file": case.description,
                "megapixels": round(case.size[0] * case.size[1] / 1e6, 1),
                "file_mib": round(len(data) / 2**20, 1),
                "concurrency": args.concurrency,
                "peak_rss_delta_mib": round(median, 1),
                "runs_mib": [round(r["delta"], 1) for r in runs],
                "baseline_rss_mib": round(statistics.median(r["baseline"] for r in runs), 1),
                "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
                "statuses": runs[-1]["statuses"],
                "expected_status": case.expected_status,
                "errors": sorted({e for r in runs for e in r["errors"]}),
                "target_mib": TARGET_MIB,
                "ok": ok,
            }
            print(json.dumps(line), flush=True)
    return 1 if failed else 0
