"""The studio as a person uses it, in a real browser against `make run`'s dev server and its local cron.

One flow: sign in, connect the sandbox Instagram account, upload a photo, generate a match result, edit the
caption, schedule it a few seconds ahead, and see it published by the cron; plus a page on an origin that is
not in FRONTEND_ORIGINS, which the browser must refuse, and the words a server error gets (with the reference
support looks up). Waits poll the page with a deadline, never sleep.
"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.browser.conftest import Shots
from tests.e2e.conftest import DevServer, free_port, start_devserver, wait_healthy

pytestmark = pytest.mark.e2e

DEMO_WORKSPACE = "00000000-0000-4000-8000-000000000002"
CAPTION = "Full time at Demo Park: three points and a clean sheet! Thanks for the noise @demofc fans #DemoFC #win"


def studio_url(server: DevServer) -> str:
    line = server.wait_for_line("SocialLab is running")
    found = re.search(r"studio (http://127\.0\.0\.1:\d+)/", line)
    assert found, line
    return found.group(1)


@pytest.fixture
def product(database_url: str, tmp_path: Path) -> Iterator[DevServer]:
    # The cron calls publish-due every 5 s here (every minute under `make run`), so a post due in seconds goes out.
    server = start_devserver(tmp_path / "data", {"DATABASE_URL": database_url}, "--cron-every", "5")
    try:
        wait_healthy(server)
        yield server
    finally:
        server.stop()


def photo(tmp_path: Path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1080, 1350), (11, 61, 145))
    draw = ImageDraw.Draw(image)
    for y in range(0, 1350, 30):
        draw.rectangle((0, y, 1080, y + 14), fill=(20 + y // 10, 90, 60))
    draw.ellipse((340, 500, 740, 900), fill=(255, 209, 0))
    path = tmp_path / "goal-celebration.jpg"
    image.save(path, "JPEG", quality=90)
    return path


def wait(driver: Any, condition: Any, timeout: float = 30, message: str = "") -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition, message)


def visible(driver: Any, css: str, timeout: float = 30) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, css)), timeout, f"{css} never shown")


def notice(driver: Any, text: str, timeout: float = 30) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    wait(driver, ec.text_to_be_present_in_element((By.ID, "status"), text), timeout, f"no notice {text!r}")


def button(driver: Any, text: str, within: Any = None) -> Any:
    from selenium.webdriver.common.by import By

    scope = within or driver
    return wait(
        driver,
        lambda _: next(
            (
                b
                for b in scope.find_elements(By.CSS_SELECTOR, "button, a.button")
                if b.text.strip() == text and b.is_enabled()
            ),
            False,
        ),
        message=f"no button {text!r}",
    )


def nav(driver: Any, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.LINK_TEXT, name).click()
    visible(driver, "main h1")


def test_a_club_runs_the_whole_flow_in_the_studio(
    product: DevServer, browser: Any, shots: Shots, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    studio = studio_url(product)
    browser.get(f"{studio}/")

    # Sign in (the dev sign-in of `make run`; Supabase Auth in production).
    visible(browser, "form input[type=email]")
    shots.take("sign-in")
    button(browser, "Sign in (development)").click()
    visible(browser, "#nav")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#post-list article"), message="no posts listed")
    assert "demo@sociallab.local (owner)" in browser.find_element(By.ID, "who").text
    shots.take("signed-in-plan")

    # Connect the sandbox Instagram account: start -> Instagram's consent (sandbox) -> callback -> our return page.
    nav(browser, "Instagram")
    button(browser, "Connect an Instagram account").click()
    wait(browser, lambda d: "instagram-return.html" in d.current_url, message="never came back from Instagram")
    result = browser.find_element(By.ID, "result")
    wait(browser, lambda _: result.text.startswith(("Connected", "Not connected")), message="the return page hung")
    shots.take("instagram-connected")
    assert result.text.startswith("Connected: @"), result.text
    assert "code=" not in browser.current_url  # spent: a reload must not send them again
    browser.find_element(By.ID, "back").click()
    account = visible(browser, ".account")
    assert "Connected" in account.text
    shots.take("instagram-accounts")

    # Library: an upload the API refuses is explained in words; a photo uploads with its tag and match.
    nav(browser, "Library")
    not_a_photo = tmp_path / "notes.jpg"
    not_a_photo.write_text("these are meeting notes, not a photo")
    browser.find_element(By.NAME, "file").send_keys(str(not_a_photo))
    button(browser, "Upload").click()
    refused = visible(browser, ".uploads .error")
    assert refused.text.startswith("Not uploaded: ") and "HTTP" not in refused.text, refused.text
    shots.take("library-upload-refused", refused)
    browser.find_element(By.NAME, "file").send_keys(str(photo(tmp_path)))
    browser.find_element(By.NAME, "tags").send_keys("studio, celebration")
    Select(browser.find_element(By.NAME, "match_id")).select_by_index(1 + _finished_match_index(browser))
    button(browser, "Upload").click()
    notice(browser, "1 photo uploaded.")
    Select(browser.find_element(By.ID, "filter-tag")).select_by_visible_text("celebration")
    shown = browser.find_elements(By.CSS_SELECTOR, ".photos figure")
    assert len(shown) == 1 and "#celebration" in shown[0].text
    shots.take("library-uploaded-and-filtered", shown[0])

    # Create: a match result from that photo; the graphic and the caption come back.
    nav(browser, "Create")
    Select(browser.find_element(By.NAME, "content_type")).select_by_value("match_result")
    picked = browser.find_element(By.CSS_SELECTOR, "img[alt='Photo tagged celebration, studio']")
    picked.find_element(By.XPATH, "./preceding-sibling::input").click()
    button(browser, "Generate").click()
    graphic = visible(browser, "img.graphic", timeout=90)
    wait(browser, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", graphic))
    assert graphic.get_attribute("naturalWidth") == "1080"
    caption = browser.find_element(By.NAME, "caption")
    assert caption.get_attribute("value").strip()
    shots.take("generated-match-result", graphic)

    # Edit the caption; the counts follow as one types.
    caption.clear()
    caption.send_keys(CAPTION)
    counts = browser.find_element(By.CSS_SELECTOR, ".counts")
    assert re.match(r"^\d+ / 2200 characters · \d+ / 30 hashtags · 1 / 20 mentions$", counts.text), counts.text
    button(browser, "Save caption").click()
    notice(browser, "Caption saved.")
    shots.take("caption-edited", counts)

    # Schedule it a few seconds ahead (in the workspace's time zone), with the best times on offer.
    schedule_it = button(browser, "Schedule it")
    post_id = schedule_it.get_attribute("href").rsplit("post=", 1)[1]
    schedule_it.click()
    form = visible(browser, "form.schedule")
    wait(browser, lambda _: form.find_elements(By.CSS_SELECTOR, "button.slot"), message="no best-time suggestions")
    label = form.find_element(By.TAG_NAME, "label").text
    timezone = re.search(r"\((.+)\)", label).group(1)  # type: ignore[union-attr]
    soon = datetime.now(ZoneInfo(timezone)) + timedelta(seconds=8)
    when = form.find_element(By.NAME, "scheduled_at")
    browser.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))",
        when,
        soon.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    shots.take("schedule-with-best-times", form)
    button(browser, "Schedule", within=form).click()
    notice(browser, "Scheduled for")
    shots.take("scheduled", visible(browser, f"#post-{post_id}[data-status='scheduled']"))

    # The local cron publishes it to the Instagram sandbox; the plan follows it to published by itself.
    published = f"#post-{post_id}[data-status='published']"
    visible(browser, published, timeout=120)
    assert "View on Instagram" in browser.find_element(By.CSS_SELECTOR, published).text
    shots.take("published", browser.find_element(By.CSS_SELECTOR, published))
    sandbox = httpx.get(f"{product.base_url}/sandbox/instagram/_sandbox/state").text
    assert "three points and a clean sheet" in sandbox

    # Every call so far crossed origins (studio -> API) and none was blocked.
    console = [e["message"] for e in browser.get_log("browser")]
    assert not [m for m in console if "CORS" in m], console

    # Results: charts where the insights API has figures, "No figures yet" where it has none (or is not deployed).
    nav(browser, "Results")
    parts = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "main section.card"), message="no results")
    assert len(parts) == 3
    for part in parts:
        empty = part.find_elements(By.CSS_SELECTOR, ".empty")
        assert part.find_elements(By.CSS_SELECTOR, "figure svg") or empty[0].text.startswith("No figures yet"), (
            part.text
        )
    shots.take("results")
    browser.back()

    # Phone width: everything fits, nothing scrolls sideways.
    browser.set_window_size(390, 844)
    visible(browser, published)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    shots.take("phone-width-plan")


def _finished_match_index(driver: Any) -> int:
    from selenium.webdriver.common.by import By

    options = driver.find_element(By.NAME, "match_id").find_elements(By.TAG_NAME, "option")[1:]
    return next(i for i, option in enumerate(options) if "Harbour City" in option.text)


@pytest.fixture
def other_origin() -> Iterator[str]:
    """A page on an origin FRONTEND_ORIGINS does not list (another local port)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>another site</title><p>another site"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


FETCH = """
const [url, token, done] = arguments;
fetch(url, {headers: {Authorization: 'Bearer ' + token}})
  .then((r) => done('HTTP ' + r.status))
  .catch((e) => done(String(e)));
"""


def test_a_page_on_an_origin_not_allowed_is_refused(
    database_url: str, tmp_path: Path, browser: Any, shots: Shots, other_origin: str
) -> None:
    server = start_devserver(tmp_path / "data", {"DATABASE_URL": database_url}, "--no-cron")
    try:
        wait_healthy(server)
        studio = studio_url(server)
        server.wait_for_line("bearer token")
        token = server.next_line().strip()
        posts = f"{server.base_url}/posts/?workspace_id={DEMO_WORKSPACE}"

        browser.get(f"{studio}/")
        assert browser.execute_async_script(FETCH, posts, token) == "HTTP 200"  # the studio's origin may
        browser.get(f"{other_origin}/")
        assert browser.execute_async_script(FETCH, posts, token) == "TypeError: Failed to fetch"
        refused = [e["message"] for e in browser.get_log("browser") if "blocked by CORS policy" in e["message"]]
        assert refused and other_origin in refused[0], refused
        shots.take("other-origin-refused")
    finally:
        server.stop()


EXPLAIN = """
const done = arguments[arguments.length - 1];
const body = (status, message) => ({error: {code: 'x', message, details: [], request_id: 'req-' + status}});
import('./js/api.js').then(({ApiError}) => done([
  new ApiError(503, body(503, 'The database is unavailable.'), null, null).explain(),
  new ApiError(500, null, null, 'req-from-header').explain(),
  new ApiError(422, body(422, 'The caption is too long.'), null, null).explain(),
]));
"""


def test_a_server_error_tells_the_person_the_reference_support_looks_up(
    database_url: str, tmp_path: Path, browser: Any
) -> None:
    server = start_devserver(tmp_path / "data", {"DATABASE_URL": database_url}, "--no-cron")
    try:
        wait_healthy(server)
        browser.get(f"{studio_url(server)}/")
        unavailable, bare, invalid = browser.execute_async_script(EXPLAIN)
        assert unavailable == "The database is unavailable. Reference for support: req-503."
        assert bare == "The API answered HTTP 500. Reference for support: req-from-header."  # no body: the header's id
        assert invalid == "The caption is too long."  # the person can fix it: nothing for support
    finally:
        server.stop()
