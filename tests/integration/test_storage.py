"""The image store: one contract for the three backends, then what is particular to each.

- local: files in a temporary folder; signed URLs served by `local_storage_app` (ASGI, in process).
- supabase: storage3's real client against a fake Supabase Storage server (uvicorn, 127.0.0.1)
  that implements the endpoints storage3 calls, checks the service-role headers and answers
  with Supabase-shaped errors (HTTP 400 with the real status in the body, like storage-api).
- s3: boto3 against moto's real server (ThreadedMotoServer, 127.0.0.1).
"""

from __future__ import annotations

import dataclasses
import secrets
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from sociallab.config import Secret, Settings
from sociallab.crypto import make_signed_token
from sociallab.errors import (
    BadRequestError,
    ConfigurationError,
    DependencyUnavailableError,
    NotFoundError,
)
from sociallab.storage import Storage, get_storage
from sociallab.storage.local import SIGN_PURPOSE, LocalStorage, local_storage_app
from sociallab.storage.s3 import S3Storage
from sociallab.storage.supabase import SupabaseStorage
from tests.servers import Swappable, serve

pytestmark = pytest.mark.integration

SERVICE_ROLE_KEY = "service-role-key-for-tests-" + "x" * 20
URL_SIGNING_KEY = "url-signing-key-for-tests-0123456789"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\r\n--not-a-boundary\r\n\xff\xd9"
PATH = "ws-1/2025 match/photo (1)+final.jpg"

Fetch = Callable[[str], Awaitable[httpx.Response]]


# --- a fake Supabase Storage server ---------------------------------------------------------------


def _storage_error(status: str, error: str, message: str, code: str | None = None) -> JSONResponse:
    """Supabase storage-api renders errors as HTTP 400 with the real status in the body."""
    body = {"statusCode": status, "error": error, "message": message}
    if code:
        body["code"] = code
    return JSONResponse(body, status_code=500 if status == "500" else 400)


def _multipart_file(body: bytes, content_type_header: str) -> tuple[bytes, str]:
    """The `file` part of a multipart/form-data body: its bytes and content type."""
    boundary = content_type_header.split("boundary=", 1)[1].strip().strip('"').encode()
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, content = part[2:].partition(b"\r\n\r\n")
        headers = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n") if b": " in line)
        lowered = {name.lower(): value for name, value in headers.items()}
        if 'name="file"' in lowered.get("content-disposition", ""):
            return content[:-2], lowered.get("content-type", "application/octet-stream")
    raise ValueError("no file part")


@dataclass
class FakeSupabaseStorage:
    """Supabase Storage's object endpoints, as storage3 calls them, in memory."""

    key: str = SERVICE_ROLE_KEY
    buckets: set[str] = field(default_factory=lambda: {"media"})
    not_found_error: str = "not_found"
    objects: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    sign_bodies: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None
    now: float = 1_750_000_000.0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/storage/v1/object/sign/{bucket}/{path:path}", self.sign, methods=["POST"]),
                Route("/storage/v1/object/sign/{bucket}/{path:path}", self.signed_get, methods=["GET"]),
                Route("/storage/v1/object/info/{bucket}/{path:path}", self.info, methods=["GET"]),
                Route("/storage/v1/object/{bucket}/{path:path}", self.upload, methods=["POST", "PUT"]),
                Route("/storage/v1/object/{bucket}/{path:path}", self.download, methods=["GET"]),
                Route("/storage/v1/object/{bucket}", self.remove, methods=["DELETE"]),
            ]
        )

    def _refuse(self, request: Request, *, authenticated: bool = True) -> Response | None:
        self.requests.append((request.method, request.url.path))
        if self.fail_with:
            return _storage_error(str(self.fail_with), "InternalError", "Internal server error", "InternalError")
        if authenticated and (
            request.headers.get("apikey") != self.key or request.headers.get("authorization") != f"Bearer {self.key}"
        ):
            return _storage_error("400", "InvalidJWT", "invalid signature", "InvalidJWT")
        if request.path_params["bucket"] not in self.buckets:
            return _storage_error("404", "Bucket not found", "Bucket not found", "NoSuchBucket")
        return None

    def _missing(self) -> JSONResponse:
        return _storage_error("404", self.not_found_error, "Object not found", "NoSuchKey")

    async def upload(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        bucket, path = request.path_params["bucket"], request.path_params["path"]
        exists = (bucket, path) in self.objects
        if request.method == "POST" and exists and request.headers.get("x-upsert") != "true":
            return _storage_error("409", "Duplicate", "The resource already exists", "KeyAlreadyExists")
        if request.method == "PUT" and not exists:
            return self._missing()
        self.objects[bucket, path] = _multipart_file(await request.body(), request.headers["content-type"])
        return JSONResponse({"Key": f"{bucket}/{path}", "Id": str(uuid.uuid4())})

    async def download(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        stored = self.objects.get((request.path_params["bucket"], request.path_params["path"]))
        if stored is None:
            return self._missing()
        return Response(stored[0], media_type=stored[1])

    async def info(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        stored = self.objects.get((request.path_params["bucket"], request.path_params["path"]))
        if stored is None:
            return self._missing()
        return JSONResponse({"name": request.path_params["path"], "size": len(stored[0]), "content_type": stored[1]})

    async def remove(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        bucket = request.path_params["bucket"]
        deleted = []
        for prefix in (await request.json())["prefixes"]:
            if self.objects.pop((bucket, prefix), None) is not None:
                deleted.append({"name": prefix, "bucket_id": bucket})
        return JSONResponse(deleted)

    async def sign(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        bucket, path = request.path_params["bucket"], request.path_params["path"]
        body = await request.json()
        self.sign_bodies.append(body)
        if (bucket, path) not in self.objects:
            return self._missing()
        token = secrets.token_urlsafe(16)
        self.tokens[token] = (bucket, path, self.now + int(body["expiresIn"]))
        return JSONResponse({"signedURL": f"/object/sign/{bucket}/{quote(path)}?token={token}"})

    async def signed_get(self, request: Request) -> Response:
        if refused := self._refuse(request, authenticated=False):
            return refused
        bucket, path = request.path_params["bucket"], request.path_params["path"]
        grant = self.tokens.get(request.query_params.get("token", ""))
        if grant is None or grant[:2] != (bucket, path):
            return _storage_error("400", "InvalidSignature", "Invalid signature", "InvalidSignature")
        if self.now >= grant[2]:
            return _storage_error("400", "ExpiredToken", "The provided token has expired.", "ExpiredToken")
        stored = self.objects.get((bucket, path))
        if stored is None:
            return self._missing()
        return Response(stored[0], media_type=stored[1])


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def supabase_server() -> Iterator[tuple[str, Swappable]]:
    """The fake's server for the session; each test swaps a fresh fake in."""
    dispatch = Swappable(FakeSupabaseStorage().app())
    with serve(dispatch) as base_url:
        yield base_url, dispatch


@pytest.fixture
def fake_supabase(supabase_server: tuple[str, Swappable]) -> FakeSupabaseStorage:
    fake = FakeSupabaseStorage()
    supabase_server[1].app = fake.app()
    return fake


@pytest.fixture
def supabase_settings(supabase_server: tuple[str, Swappable], fake_supabase: FakeSupabaseStorage) -> Settings:
    return Settings(
        storage_backend="supabase",
        supabase_url=supabase_server[0],
        supabase_service_role_key=Secret(SERVICE_ROLE_KEY),
        storage_bucket="media",
    )


# --- moto -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials for moto from the standard AWS_* variables, isolated from the machine's config."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_settings(moto_endpoint: str, aws_env: None) -> Settings:
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    return Settings(storage_backend="s3", storage_bucket=bucket, s3_endpoint_url=moto_endpoint)


# --- local ----------------------------------------------------------------------------------------


@dataclass
class Clock:
    now: float = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    return Settings(
        storage_backend="local",
        storage_local_dir=str(tmp_path / "storage"),
        storage_bucket="media",
        public_base_url="http://sociallab.test/",
        url_signing_key=Secret(URL_SIGNING_KEY),
    )


def _dev_server_client(settings: Settings, clock: Callable[[], float] | None = None) -> httpx.AsyncClient:
    """A client for `local_storage_app` mounted at /storage, as the dev server mounts it."""
    storage_app = local_storage_app(settings, clock=clock) if clock else local_storage_app(settings)
    app = Starlette(routes=[Mount("/storage", app=storage_app)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sociallab.test")


# --- the contract ---------------------------------------------------------------------------------


@dataclass
class Backend:
    storage: Storage
    fetch: Fetch


@pytest.fixture(params=["local", "supabase", "s3"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    storage = get_storage(settings)
    if request.param == "local":
        client = _dev_server_client(settings)
    else:
        client = httpx.AsyncClient(timeout=10)
    async with client, storage:
        yield Backend(storage, client.get)


async def test_contract_round_trip(backend: Backend) -> None:
    storage = backend.storage

    assert await storage.exists(PATH) is False
    await storage.put(PATH, b"first version", "image/png")
    await storage.put(PATH, PHOTO, "image/jpeg")  # replaces

    assert await storage.exists(PATH) is True
    assert await storage.get(PATH) == PHOTO

    url = await storage.signed_url(PATH, expires_in=3600)
    assert url.startswith("http://")
    response = await backend.fetch(url)  # anonymous: no credentials on this request
    assert response.status_code == 200
    assert response.content == PHOTO
    assert response.headers["content-type"] == "image/jpeg"

    await storage.delete(PATH)
    assert await storage.exists(PATH) is False
    with pytest.raises(NotFoundError):
        await storage.get(PATH)


async def test_contract_missing_objects(backend: Backend) -> None:
    storage = backend.storage

    with pytest.raises(NotFoundError):
        await storage.get("ws-1/missing.jpg")
    with pytest.raises(NotFoundError):
        await storage.signed_url("ws-1/missing.jpg", expires_in=60)
    assert await storage.exists("ws-1/missing.jpg") is False
    await storage.delete("ws-1/missing.jpg")  # deleting what is not there is fine


async def test_contract_keeps_objects_apart(backend: Backend) -> None:
    storage = backend.storage
    await storage.put("ws-1/a.jpg", b"a", "image/jpeg")
    await storage.put("ws-1/a.jpg.meta", b"b", "application/json")
    await storage.put("ws-2/a.jpg", b"c", "image/jpeg")

    await storage.delete("ws-1/a.jpg")

    assert await storage.get("ws-1/a.jpg.meta") == b"b"
    assert await storage.get("ws-2/a.jpg") == b"c"


BAD_PATHS = [
    "",
    "/etc/passwd",
    "../secret.jpg",
    "ws-1/../../secret.jpg",
    "ws-1/./a.jpg",
    "ws-1//a.jpg",
    "ws-1/",
    "ws-1\\a.jpg",
    "ws-1/a\x00.jpg",
    "ws-1/a\n.jpg",
    "ws-1/%2e%2e/a.jpg",
    "ws-1/a.jpg?token=x",
    "ws-1/\u00e9.jpg",
    "a" * 1025,
]


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_contract_refuses_bad_paths_before_reaching_the_store(
    backend: Backend, path: str, fake_supabase: FakeSupabaseStorage
) -> None:
    storage = backend.storage
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: storage.put(path, b"x", "image/jpeg"),
        lambda: storage.get(path),
        lambda: storage.delete(path),
        lambda: storage.exists(path),
        lambda: storage.signed_url(path, expires_in=60),
    ]
    for call in calls:
        with pytest.raises(BadRequestError):
            await call()

    assert fake_supabase.requests == []


async def test_contract_refuses_bad_content_types_and_expiries(backend: Backend) -> None:
    storage = backend.storage
    for content_type in ["", "jpeg", "image/jpeg\r\nX-Evil: 1", "image/ jpeg"]:
        with pytest.raises(BadRequestError):
            await storage.put("ws-1/a.jpg", b"x", content_type)

    await storage.put("ws-1/a.jpg", b"x", "image/jpeg")
    for expires_in in [0, -1, 7 * 24 * 3600 + 1]:
        with pytest.raises(ValueError, match="expires_in"):
            await storage.signed_url("ws-1/a.jpg", expires_in=expires_in)
    assert await storage.signed_url("ws-1/a.jpg", expires_in=7 * 24 * 3600)


def test_importing_the_package_loads_no_backend_library() -> None:
    code = (
        "import sys, sociallab.storage\n"
        "heavy = sorted(m for m in ('boto3', 'botocore', 'storage3', 'supabase') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == ""


def test_get_storage_chooses_the_backend_from_settings(
    local_settings: Settings, supabase_settings: Settings, s3_settings: Settings
) -> None:
    assert isinstance(get_storage(local_settings), LocalStorage)
    assert isinstance(get_storage(supabase_settings), SupabaseStorage)
    assert isinstance(get_storage(s3_settings), S3Storage)


def test_bad_bucket_names_are_configuration_errors(local_settings: Settings) -> None:
    for bucket in ["", "..", ".meta", "a/b", "a" * 64]:
        with pytest.raises(ConfigurationError, match="STORAGE_BUCKET"):
            get_storage(dataclasses.replace(local_settings, storage_bucket=bucket))


# --- local ----------------------------------------------------------------------------------------


async def test_local_signed_url_shape_mirrors_supabase(local_settings: Settings) -> None:
    storage = get_storage(local_settings)
    await storage.put(PATH, PHOTO, "image/jpeg")

    url = urlsplit(await storage.signed_url(PATH, expires_in=3600))

    assert (url.scheme, url.netloc) == ("http", "sociallab.test")
    assert url.path == "/storage/v1/object/sign/media/ws-1/2025%20match/photo%20%281%29%2Bfinal.jpg"
    assert list(parse_qs(url.query)) == ["token"]


async def test_local_files_live_under_dir_bucket_path_and_writes_leave_no_temp_files(
    local_settings: Settings,
) -> None:
    storage = get_storage(local_settings)
    await storage.put("ws-1/a.jpg", PHOTO, "image/jpeg")
    await storage.put("ws-1/a.jpg", b"new", "image/jpeg")

    folder = Path(local_settings.storage_local_dir) / "media" / "ws-1"
    assert (folder / "a.jpg").read_bytes() == b"new"
    assert sorted(item.name for item in folder.iterdir()) == ["a.jpg"]


async def test_local_signed_url_serves_bytes_with_the_stored_content_type(local_settings: Settings) -> None:
    storage = get_storage(local_settings)
    await storage.put("ws-1/story.png", b"\x89PNG...", "image/png")

    async with _dev_server_client(local_settings) as client:
        response = await client.get(await storage.signed_url("ws-1/story.png", expires_in=3600))

    assert response.status_code == 200
    assert response.content == b"\x89PNG..."
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"


def _forbidden(response: httpx.Response, message: str) -> None:
    assert response.status_code == 403
    assert response.json() == {"error": {"code": "forbidden", "message": message, "details": [], "request_id": None}}


async def test_local_tampered_or_missing_token_is_403(local_settings: Settings) -> None:
    storage = get_storage(local_settings)
    await storage.put("ws-1/a.jpg", PHOTO, "image/jpeg")
    url = await storage.signed_url("ws-1/a.jpg", expires_in=3600)
    flipped = url[:-1] + ("A" if url[-1] != "A" else "B")

    async with _dev_server_client(local_settings) as client:
        _forbidden(await client.get(flipped), "The signed URL is invalid.")
        _forbidden(await client.get(url.split("?")[0]), "The signed URL is invalid.")
        _forbidden(await client.get(url.split("?")[0] + "?token=garbage"), "The signed URL is invalid.")


async def test_local_token_for_one_object_does_not_open_another(local_settings: Settings) -> None:
    storage = get_storage(local_settings)
    await storage.put("ws-1/a.jpg", b"a", "image/jpeg")
    await storage.put("ws-2/private.jpg", b"private", "image/jpeg")
    token = (await storage.signed_url("ws-1/a.jpg", expires_in=3600)).split("token=")[1]

    async with _dev_server_client(local_settings) as client:
        response = await client.get(f"/storage/v1/object/sign/media/ws-2/private.jpg?token={token}")
        other_bucket = await client.get(f"/storage/v1/object/sign/other/ws-1/a.jpg?token={token}")

    _forbidden(response, "The signed URL is invalid.")
    _forbidden(other_bucket, "The signed URL is invalid.")


async def test_local_signed_url_expires(local_settings: Settings) -> None:
    clock = Clock()
    storage = LocalStorage.from_settings(local_settings, clock=clock)
    await storage.put("ws-1/a.jpg", PHOTO, "image/jpeg")
    url = await storage.signed_url("ws-1/a.jpg", expires_in=3600)

    async with _dev_server_client(local_settings, clock) as client:
        clock.now += 3599
        assert (await client.get(url)).status_code == 200
        clock.now += 1
        _forbidden(await client.get(url), "The signed URL has expired.")


async def test_local_signed_url_of_a_deleted_object_is_404(local_settings: Settings) -> None:
    storage = get_storage(local_settings)
    await storage.put("ws-1/a.jpg", PHOTO, "image/jpeg")
    url = await storage.signed_url("ws-1/a.jpg", expires_in=3600)
    await storage.delete("ws-1/a.jpg")

    async with _dev_server_client(local_settings) as client:
        response = await client.get(url)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "raw_path",
    [
        "/storage/v1/object/sign/media/..%2F..%2Fsecret.txt",
        "/storage/v1/object/sign/media/ws-1%2F..%2F..%2Fsecret.txt",
        "/storage/v1/object/sign/media/%2Fetc%2Fpasswd",
        "/storage/v1/object/sign/media/ws-1%5C..%5C..%5Csecret.txt",
        "/storage/v1/object/sign/..%2F..%2Foutside/secret.txt",
    ],
)
async def test_local_app_never_serves_outside_the_bucket(local_settings: Settings, raw_path: str) -> None:
    root = Path(local_settings.storage_local_dir)
    (root / "media").mkdir(parents=True)
    (root.parent / "secret.txt").write_bytes(b"TOP SECRET")
    # Even a validly signed token for the traversing path must not help.
    decoded = raw_path.split("/sign/", 1)[1].replace("%2F", "/").replace("%5C", "\\")
    bucket, _, path = decoded.partition("/")
    token = make_signed_token(
        {"b": bucket, "p": path}, key=URL_SIGNING_KEY.encode(), purpose=SIGN_PURPOSE, ttl_seconds=60
    )

    async with _dev_server_client(local_settings) as client:
        response = await client.get(f"{raw_path}?token={token}")

    assert response.status_code in (400, 403)
    assert b"TOP SECRET" not in response.content
    assert response.json()["error"]["code"] in ("bad_request", "forbidden")


async def test_local_symlink_out_of_the_bucket_is_refused(local_settings: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"TOP SECRET")
    bucket_dir = tmp_path / "storage" / "media"
    bucket_dir.mkdir(parents=True)
    (bucket_dir / "link.jpg").symlink_to(outside)
    storage = get_storage(local_settings)
    token = make_signed_token(
        {"b": "media", "p": "link.jpg"}, key=URL_SIGNING_KEY.encode(), purpose=SIGN_PURPOSE, ttl_seconds=60
    )

    with pytest.raises(BadRequestError):
        await storage.get("link.jpg")
    async with _dev_server_client(local_settings) as client:
        response = await client.get(f"/storage/v1/object/sign/media/link.jpg?token={token}")

    assert response.status_code == 400
    assert b"TOP SECRET" not in response.content


async def test_local_without_url_signing_key_names_the_variable(local_settings: Settings) -> None:
    settings = dataclasses.replace(local_settings, url_signing_key=None)
    storage = get_storage(settings)
    await storage.put("ws-1/a.jpg", b"x", "image/jpeg")  # storing works without the key

    with pytest.raises(ConfigurationError, match="URL_SIGNING_KEY"):
        await storage.signed_url("ws-1/a.jpg", expires_in=60)
    with pytest.raises(ConfigurationError, match="URL_SIGNING_KEY"):
        local_storage_app(settings)


async def test_local_object_and_folder_with_the_same_name_conflict(local_settings: Settings) -> None:
    from sociallab.errors import ConflictError

    storage = get_storage(local_settings)
    await storage.put("ws-1/a", b"x", "image/jpeg")

    with pytest.raises(ConflictError):
        await storage.put("ws-1/a/b.jpg", b"y", "image/jpeg")
    assert await storage.exists("ws-1") is False
    with pytest.raises(NotFoundError):
        await storage.get("ws-1")


# --- supabase -------------------------------------------------------------------------------------


async def test_supabase_sends_service_role_headers_upsert_and_expiry(
    supabase_settings: Settings, fake_supabase: FakeSupabaseStorage
) -> None:
    async with get_storage(supabase_settings) as storage:
        await storage.put("ws-1/a.jpg", b"one", "image/jpeg")
        await storage.put("ws-1/a.jpg", b"two", "image/webp")  # the fake refuses a second POST without x-upsert
        url = await storage.signed_url("ws-1/a.jpg", expires_in=6 * 3600)

    assert fake_supabase.objects["media", "ws-1/a.jpg"] == (b"two", "image/webp")
    assert fake_supabase.sign_bodies == [{"expiresIn": "21600"}]
    assert url.startswith(f"{supabase_settings.supabase_url}/storage/v1/object/sign/media/ws-1/a.jpg?token=")


async def test_supabase_signed_url_is_refused_after_expiry(
    supabase_settings: Settings, fake_supabase: FakeSupabaseStorage
) -> None:
    async with get_storage(supabase_settings) as storage, httpx.AsyncClient() as client:
        await storage.put("ws-1/a.jpg", b"one", "image/jpeg")
        url = await storage.signed_url("ws-1/a.jpg", expires_in=60)
        fake_supabase.now += 60
        response = await client.get(url)

    assert response.status_code == 400
    assert response.json()["error"] == "ExpiredToken"


@pytest.mark.parametrize("error", ["not_found", "NoSuchKey"])
async def test_supabase_not_found_in_either_error_shape(
    supabase_settings: Settings, fake_supabase: FakeSupabaseStorage, error: str
) -> None:
    fake_supabase.not_found_error = error
    async with get_storage(supabase_settings) as storage:
        with pytest.raises(NotFoundError):
            await storage.get("ws-1/missing.jpg")
        assert await storage.exists("ws-1/missing.jpg") is False


async def test_supabase_wrong_key_is_a_configuration_error_without_the_key(
    supabase_settings: Settings, fake_supabase: FakeSupabaseStorage
) -> None:
    wrong = "wrong-service-role-key-" + "y" * 20
    settings = dataclasses.replace(supabase_settings, supabase_service_role_key=Secret(wrong))
    async with get_storage(settings) as storage:
        for call in (lambda: storage.get("ws-1/a.jpg"), lambda: storage.exists("ws-1/a.jpg")):
            with pytest.raises(ConfigurationError, match="SUPABASE_SERVICE_ROLE_KEY") as caught:
                await call()
            assert wrong not in str(caught.value)


async def test_supabase_missing_bucket_names_storage_bucket(
    supabase_settings: Settings, fake_supabase: FakeSupabaseStorage
) -> None:
    settings = dataclasses.replace(supabase_settings, storage_bucket="nope")
    async with get_storage(settings) as storage:
        with pytest.raises(ConfigurationError, match="STORAGE_BUCKET"):
            await storage.put("ws-1/a.jpg", b"x", "image/jpeg")


async def test_supabase_server_errors_and_unreachable_are_dependency_unavailable(
    supabase_settings: Settings, fake_supabase: FakeSupabaseStorage
) -> None:
    fake_supabase.fail_with = 500
    async with get_storage(supabase_settings) as storage:
        with pytest.raises(DependencyUnavailableError):
            await storage.get("ws-1/a.jpg")

    down = dataclasses.replace(supabase_settings, supabase_url=f"http://127.0.0.1:{_closed_port()}")
    async with get_storage(down) as storage:
        with pytest.raises(DependencyUnavailableError):
            await storage.put("ws-1/a.jpg", b"x", "image/jpeg")


def test_supabase_needs_url_and_key() -> None:
    with pytest.raises(ConfigurationError, match="SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY"):
        get_storage(Settings(storage_backend="supabase", supabase_url=None, supabase_service_role_key=None))


async def test_supabase_accepts_an_injected_http_client(
    supabase_settings: Settings, fake_supabase: FakeSupabaseStorage
) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        storage = SupabaseStorage.from_settings(supabase_settings, http_client=client)
        await storage.put("ws-1/a.jpg", b"x", "image/jpeg")
        await storage.aclose()  # never closes a client it did not make
        assert await storage.get("ws-1/a.jpg") == b"x"
        assert not client.is_closed


# --- s3 -------------------------------------------------------------------------------------------


async def test_s3_presigned_url_carries_its_expiry_and_needs_no_credentials(s3_settings: Settings) -> None:
    """moto (5.x) serves presigned URLs without checking their signature or expiry, so refusal of
    an expired URL cannot be shown against it; what we own is the expiry we ask boto3 to sign."""
    async with get_storage(s3_settings) as storage, httpx.AsyncClient() as client:
        await storage.put("ws-1/a.jpg", PHOTO, "image/jpeg")
        url = await storage.signed_url("ws-1/a.jpg", expires_in=3600)
        response = await client.get(url)

    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path == f"/{s3_settings.storage_bucket}/ws-1/a.jpg"  # path style
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["3600"]
    assert "X-Amz-Signature" in query and "Authorization" not in response.request.headers
    assert response.content == PHOTO


async def test_s3_missing_bucket_names_storage_bucket(s3_settings: Settings) -> None:
    settings = dataclasses.replace(s3_settings, storage_bucket="no-such-bucket-here")
    async with get_storage(settings) as storage:
        with pytest.raises(ConfigurationError, match="STORAGE_BUCKET"):
            await storage.put("ws-1/a.jpg", b"x", "image/jpeg")


async def test_s3_unreachable_endpoint_is_dependency_unavailable(aws_env: None) -> None:
    storage = S3Storage(bucket="media", endpoint_url=f"http://127.0.0.1:{_closed_port()}", max_attempts=1)

    with pytest.raises(DependencyUnavailableError):
        await storage.get("ws-1/a.jpg")


async def test_s3_without_credentials_names_the_variables(
    s3_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    storage = get_storage(s3_settings)

    with pytest.raises(ConfigurationError, match="AWS_ACCESS_KEY_ID"):
        await storage.put("ws-1/a.jpg", b"x", "image/jpeg")


def test_fake_multipart_parser_keeps_binary_bytes() -> None:
    """The fake's own parser must not be the reason a round trip passes or fails."""
    request = httpx.Request("POST", "http://x/", files={"file": ("a.jpg", PHOTO, "image/jpeg")})
    body = request.read()

    assert _multipart_file(body, request.headers["content-type"]) == (PHOTO, "image/jpeg")
