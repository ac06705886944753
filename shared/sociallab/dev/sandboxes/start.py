"""Local stand-ins for Instagram and Google Drive, for what `make run` finds unconfigured.

Each sandbox is mounted on the dev server itself (`/sandbox/instagram`, `/sandbox/drive`) and the
environment is pointed at it, so the functions talk to it over real HTTP exactly as they would to
Meta or Google. A variable that is set (e.g. INSTAGRAM_APP_ID, GOOGLE_SERVICE_ACCOUNT_JSON) keeps the
real service and no sandbox starts for it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Mount

from sociallab.dev.sandboxes.drive import DriveSandbox
from sociallab.dev.sandboxes.instagram import InstagramSandbox

DEMO_IG_USER_ID = "17841400000000001"
DEMO_DRIVE_FOLDER_ID = "1DemoFCmatchPhotosSandboxFolder"  # fixed, so the connected demo source survives restarts
DEMO_IG_USERNAME = "demofc"
DEMO_AUDIENCE_PEAK_UTC = 19.5  # most online at 19:00 and 20:00 UTC alike (20:00 and 21:00 in Amsterdam, winter)
DEMO_EARLIER_MEDIA = 12
DEMO_EARLIER_EVERY_SECONDS = 13 * 3600
SANDBOX_APP_ID = "sandbox-app"


@dataclass
class Sandboxes:
    instagram: InstagramSandbox | None = None
    drive: DriveSandbox | None = None
    drive_folder_id: str | None = None
    mounts: list[Mount] = field(default_factory=list)

    def describe(self, base_url: str) -> list[str]:
        lines = []
        if self.instagram:
            lines.append(f"  Instagram sandbox {base_url}/sandbox/instagram/_sandbox/state")
        if self.drive:
            lines.append(
                f"  Drive sandbox: demo folder {self.drive_folder_id} connected; to connect another, create it with"
                f" POST {base_url}/sandbox/drive/_sandbox/folders, then POST /drive-sync/sources, create the"
                " verification file named in the answer with POST /sandbox/drive/_sandbox/files and"
                " POST /drive-sync/sources/{id}/verify"
            )
        return lines


def start_sandboxes(base_url: str, *, demo_instagram_token: str, demo_photos: list[tuple[str, bytes]]) -> Sandboxes:
    """Create the sandboxes the environment lacks and point the environment at them."""
    sandboxes = Sandboxes()
    if not os.environ.get("INSTAGRAM_APP_ID"):
        sandbox = InstagramSandbox(
            container_ready_after=2.0,
            fetch_images=True,
            app_id=SANDBOX_APP_ID,
            app_secret=os.environ["INSTAGRAM_APP_SECRET"],
        )
        sandbox.add_account(
            ig_user_id=DEMO_IG_USER_ID,
            username=DEMO_IG_USERNAME,
            token=demo_instagram_token,
            name="Demo FC",
            audience_peak_hour=DEMO_AUDIENCE_PEAK_UTC,
        )
        # The club posted before it used SocialLab: insights-sync finds these media (and their figures).
        sandbox.seed_media(DEMO_IG_USER_ID, DEMO_EARLIER_MEDIA, DEMO_EARLIER_EVERY_SECONDS)
        root = f"{base_url}/sandbox/instagram"
        os.environ.update(
            INSTAGRAM_APP_ID=SANDBOX_APP_ID,
            INSTAGRAM_GRAPH_URL=root,
            INSTAGRAM_OAUTH_URL=root,
            INSTAGRAM_AUTHORIZE_URL=f"{root}/oauth/authorize",
        )
        sandboxes.instagram = sandbox
        sandboxes.mounts.append(Mount("/sandbox/instagram", app=sandbox.app))
    if not os.environ.get("GOOGLE_SERVICE_ACCOUNT_JSON"):
        drive = DriveSandbox()
        folder = drive.add_folder("Demo FC match photos", folder_id=DEMO_DRIVE_FOLDER_ID)
        for name, data in demo_photos:
            drive.add_file(name, data, parents=[folder])
        root = f"{base_url}/sandbox/drive"
        os.environ.update(
            DRIVE_API_URL=f"{root}/drive/v3", GOOGLE_SERVICE_ACCOUNT_JSON=json.dumps(drive.service_account_info(root))
        )
        sandboxes.drive, sandboxes.drive_folder_id = drive, folder
        sandboxes.mounts.append(Mount("/sandbox/drive", app=drive.app()))
    return sandboxes


def published_media(sandboxes: Sandboxes) -> list[dict[str, Any]]:
    return sandboxes.instagram.published_media() if sandboxes.instagram else []
