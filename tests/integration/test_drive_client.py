"""The Drive client against the Drive sandbox over real HTTP: auth, pagination, shared drives,
changes, downloads, and Google's error shapes (retried or not, by type)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sociallab.drive.client import (
    DriveClient,
    DriveFileTooLargeError,
    DriveNotFoundError,
    DrivePermissionError,
    DriveTransientError,
    ServiceAccountTokens,
)
from sociallab.errors import ConfigurationError
from tests.fixtures import images
from tests.plugins.drive import DriveServer

pytestmark = pytest.mark.integration


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
        yield client


def client_for(server: DriveServer, http: httpx.AsyncClient, sleeps: Sleeps | None = None) -> DriveClient:
    tokens = ServiceAccountTokens(server.sandbox.service_account_info(server.base_url), http)
    return DriveClient(http, base_url=server.api_url, tokens=tokens, sleep=sleeps or Sleeps())


async def test_lists_a_folder_page_by_page_with_explicit_fields(
    drive_server: DriveServer, http: httpx.AsyncClient
) -> None:
    sandbox = drive_server.sandbox
    sandbox.page_size_cap = 2
    folder = sandbox.add_folder("Match photos")
    other = sandbox.add_folder("Elsewhere")
    names = [f"p{i}.jpg" for i in range(5)]
    for name in names:
        sandbox.add_file(name, images.jpeg((50, 50 + len(name))), parents=[folder])
    sandbox.add_file("notes.txt", b"hello", parents=[folder], mime_type="text/plain")
    sandbox.add_file("other.jpg", images.jpeg(), parents=[other])
    trashed = sandbox.add_file("old.jpg", images.png(), parents=[folder])
    sandbox.update_file(trashed, trashed=True)
    drive = client_for(drive_server, http)
    listed = [f async for f in drive.list_folder(folder)]
    assert sorted(f["name"] for f in listed) == names
    assert all(len(f["md5Checksum"]) == 32 and f["parents"] == [folder] for f in listed)
    pages = sandbox.calls("/drive/v3/files")
    assert len(pages) == 3
    assert all("files(" in q["fields"] and q["supportsAllDrives"] == "true" for _, _, q in pages)
    assert sandbox.calls("/token") == [("POST", "/token", {})]  # one token for all the calls


async def test_shared_drive_folders(drive_server: DriveServer, http: httpx.AsyncClient) -> None:
    sandbox = drive_server.sandbox
    folder = sandbox.add_folder("Team drive photos", drive_id="0AshareddriveXYZ")
    sandbox.add_file("a.jpg", images.jpeg(), parents=[folder])
    drive = client_for(drive_server, http)
    meta = await drive.get_file(folder, "id,name,mimeType,driveId")
    assert meta["driveId"] == "0AshareddriveXYZ"
    listed = [f async for f in drive.list_folder(folder, drive_id="0AshareddriveXYZ")]
    assert [f["name"] for f in listed] == ["a.jpg"]
    _, _, query = sandbox.calls("/drive/v3/files")[-1]
    assert (query["corpora"], query["driveId"], query["includeItemsFromAllDrives"]) == (
        "drive",
        "0AshareddriveXYZ",
        "true",
    )


async def test_changes_from_a_saved_token(drive_server: DriveServer, http: httpx.AsyncClient) -> None:
    sandbox = drive_server.sandbox
    folder = sandbox.add_folder("f")
    drive = client_for(drive_server, http)
    start = await drive.start_page_token()
    new = sandbox.add_file("new.jpg", images.jpeg(), parents=[folder])
    page = await drive.list_changes(start)
    assert [c["fileId"] for c in page.changes] == [new]
    assert page.changes[0]["file"]["md5Checksum"]
    assert page.new_start_page_token and page.next_page_token is None
    assert (await drive.list_changes(page.new_start_page_token)).changes == []


async def test_download_and_its_size_cap(drive_server: DriveServer, http: httpx.AsyncClient) -> None:
    data = images.jpeg()
    file_id = drive_server.sandbox.add_file("a.jpg", data, parents=[drive_server.sandbox.add_folder("f")])
    drive = client_for(drive_server, http)
    assert await drive.download(file_id, max_bytes=len(data)) == data
    with pytest.raises(DriveFileTooLargeError):
        await drive.download(file_id, max_bytes=len(data) - 1)


async def test_errors_are_typed_and_only_transient_ones_retried(
    drive_server: DriveServer, http: httpx.AsyncClient
) -> None:
    sandbox = drive_server.sandbox
    hidden = sandbox.add_folder("private", readable=False)
    sleeps = Sleeps()
    drive = client_for(drive_server, http, sleeps)
    with pytest.raises(DriveNotFoundError, match="File not found"):
        await drive.get_file("missing-folder")
    with pytest.raises(DrivePermissionError, match="sufficient permissions"):
        await drive.get_file(hidden)
    assert sleeps.delays == []

    folder = sandbox.add_folder("f")
    sandbox.fail_next("/drive/v3/files", 429)
    sandbox.fail_next("/drive/v3/files", 503)
    sandbox.fail_next("/drive/v3/files", 403, "userRateLimitExceeded")
    assert (await drive.get_file(folder))["id"] == folder
    assert len(sleeps.delays) == 3
    assert sleeps.delays[0] < sleeps.delays[1] < sleeps.delays[2]  # exponential backoff

    sandbox.fail_next("/drive/v3/files", 500, times=10)
    with pytest.raises(DriveTransientError):
        await drive.get_file(folder)


async def test_a_revoked_access_token_is_refreshed_once(drive_server: DriveServer, http: httpx.AsyncClient) -> None:
    sandbox = drive_server.sandbox
    folder = sandbox.add_folder("f")
    drive = client_for(drive_server, http)
    await drive.get_file(folder)
    sandbox.tokens.clear()  # Google forgot our token
    assert (await drive.get_file(folder))["id"] == folder
    assert len(sandbox.calls("/token")) == 2


async def test_a_bad_key_is_a_configuration_error(drive_server: DriveServer, http: httpx.AsyncClient) -> None:
    with pytest.raises(ConfigurationError, match="GOOGLE_SERVICE_ACCOUNT_JSON"):
        ServiceAccountTokens({"client_email": "x@y"}, http)
    info = drive_server.sandbox.service_account_info(drive_server.base_url)
    other_key = DriveServer(type(drive_server.sandbox)(), drive_server.base_url).sandbox.service_account_info("")
    forged = ServiceAccountTokens({**info, "private_key": other_key["private_key"]}, http)
    with pytest.raises(DrivePermissionError, match="refused the service account key"):
        await forged.token()
