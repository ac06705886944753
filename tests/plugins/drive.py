"""Fixtures for the Google Drive sandbox (sociallab.dev.sandboxes.drive), served over real HTTP.

- `drive_server`: a fresh `DriveSandbox` on 127.0.0.1:<free port> (uvicorn in a thread; the socket
  listens before the thread starts, so no waiting), as a `DriveServer` (sandbox, base_url, api_url).
- `drive_env`: the server, with DRIVE_API_URL and GOOGLE_SERVICE_ACCOUNT_JSON pointing at it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sociallab.config import reset_settings
from sociallab.dev.sandboxes.drive import DriveSandbox
from tests.servers import serve


@dataclass(frozen=True)
class DriveServer:
    sandbox: DriveSandbox
    base_url: str

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/drive/v3"

    def service_account_json(self) -> str:
        return json.dumps(self.sandbox.service_account_info(self.base_url))


@pytest.fixture
def drive_server() -> Iterator[DriveServer]:
    sandbox = DriveSandbox()
    with serve(sandbox.app()) as base_url:
        yield DriveServer(sandbox, base_url)


@pytest.fixture
def drive_env(drive_server: DriveServer, monkeypatch: pytest.MonkeyPatch) -> DriveServer:
    monkeypatch.setenv("DRIVE_API_URL", drive_server.api_url)
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT_JSON", drive_server.service_account_json())
    reset_settings()
    return drive_server
