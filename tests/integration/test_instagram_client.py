"""The Graph API client against the Instagram sandbox over real HTTP: every method, every error class."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from sociallab.config import get_settings
from sociallab.dev.sandboxes.instagram import InstagramSandbox
from sociallab.errors import ConfigurationError
from sociallab.instagram import (
    ContainerExpiredError,
    ContainerNotReadyError,
    InstagramClient,
    MediaUnfetchableError,
    PermanentError,
    PublishLimitError,
    ThrottledError,
    TokenInvalidError,
    TransientError,
    UnknownOutcomeError,
)
from sociallab.logging import JsonFormatter
from tests.plugins.instagram import SANDBOX_APP_ID, ManualClock

pytestmark = pytest.mark.integration

IG = "17841400000000001"
TOKEN = "IGAAsandboxLongLivedToken-0123456789abcdef"
OTHER = "17841400000000002"
OTHER_TOKEN = "IGAAsandboxOtherToken-fedcba9876543210"
CLIENT_TIMEOUT = httpx.Timeout(0.5, connect=0.5)


@dataclass
class Env:
    sandbox: InstagramSandbox
    base_url: str
    client: InstagramClient
    clock: ManualClock


@pytest.fixture
async def make_env(make_instagram_sandbox: Callable[..., tuple[InstagramSandbox, str]]) -> AsyncIterator[Callable]:
    clients: list[httpx.AsyncClient] = []

    def make(**kwargs: object) -> Env:
        clock = ManualClock()
        sandbox, base_url = make_instagram_sandbox(clock=clock, container_ready_after=5.0, **kwargs)
        sandbox.add_account(ig_user_id=IG, username="fc_example", token=TOKEN)
        sandbox.add_account(ig_user_id=OTHER, username="other_club", token=OTHER_TOKEN)
        http = httpx.AsyncClient(timeout=CLIENT_TIMEOUT)
        clients.append(http)
        return Env(sandbox, base_url, InstagramClient.from_settings(get_settings(), http), clock)

    yield make
    for http in clients:
        await http.aclose()


@pytest.fixture
def env(make_env: Callable[..., Env]) -> Env:
    return make_env()


async def finished_container(env: Env, caption: str = "Matchday! #fc") -> str:
    container = await env.client.create_container(
        IG, TOKEN, media_type="IMAGE", image_url="https://img/a.jpg", caption=caption, alt_text="Players celebrating"
    )
    env.clock.advance(5)
    return container


# --- OAuth and tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", ["data", "flat"])
async def test_code_to_long_lived_to_refresh(make_env: Callable[..., Env], reply: str) -> None:
    env = make_env(oauth_reply=reply)
    url = env.client.authorize_url(
        redirect_uri="https://app/cb", state="s1", scopes=["a", "b"], authorize_url=f"{env.base_url}/oauth/authorize"
    )
    assert url.startswith(f"{env.base_url}/oauth/authorize?client_id={SANDBOX_APP_ID}&")
    assert "scope=a%2Cb" in url and "state=s1" in url and "response_type=code" in url
    async with httpx.AsyncClient() as browser:  # the consent page hands a code back to the redirect URI
        consent = await browser.get(url + f"&ig_user_id={IG}")
    assert consent.status_code == 302
    code = httpx.URL(consent.headers["location"]).params["code"]

    short = await env.client.exchange_code(code, redirect_uri="https://app/cb")
    assert short.user_id == IG and "instagram_business_content_publish" in short.permissions
    assert short.access_token not in repr(short)
    long = await env.client.exchange_long_lived(short.access_token)
    assert long.expires_in == 5_184_000 and long.access_token != short.access_token
    profile = await env.client.me(long.access_token)
    assert (profile.ig_user_id, profile.username, profile.account_type) == (IG, "fc_example", "BUSINESS")

    with pytest.raises(PermanentError):  # a long-lived token must be 24 h old before it can be refreshed
        await env.client.refresh_token(long.access_token)
    env.clock.advance(86_400)
    refreshed = await env.client.refresh_token(long.access_token)
    assert refreshed.expires_in == 5_184_000 and refreshed.access_token != long.access_token
    assert (await env.client.me(refreshed.access_token)).ig_user_id == IG


async def test_a_code_works_once(env: Env) -> None:
    code = env.sandbox.issue_code(IG)
    await env.client.exchange_code(code, redirect_uri="https://app/cb")
    with pytest.raises(PermanentError) as refused:
        await env.client.exchange_code(code, redirect_uri="https://app/cb")
    assert refused.value.message == "Invalid authorization code" and refused.value.meta_code == 400


async def test_a_wrong_app_secret_is_refused(env: Env) -> None:
    client = InstagramClient(
        httpx.AsyncClient(timeout=CLIENT_TIMEOUT),
        graph_url=env.base_url,
        oauth_url=env.base_url,
        api_version="v25.0",
        app_id=SANDBOX_APP_ID,
        app_secret="not-the-secret",
    )
    with pytest.raises(PermanentError):
        await client.exchange_code(env.sandbox.issue_code(IG), redirect_uri="https://app/cb")


async def test_oauth_methods_need_the_app_configured(env: Env) -> None:
    client = InstagramClient(httpx.AsyncClient(), graph_url=env.base_url, oauth_url=env.base_url, api_version="v25.0")
    with pytest.raises(ConfigurationError, match="INSTAGRAM_APP_ID"):
        client.authorize_url(redirect_uri="https://app/cb", state="s", scopes=[], authorize_url="https://x")
    with pytest.raises(ConfigurationError, match="INSTAGRAM_APP_SECRET"):
        await client.exchange_long_lived("short")


async def test_expired_revoked_and_unknown_tokens_are_token_invalid(env: Env) -> None:
    with pytest.raises(TokenInvalidError) as unknown:
        await env.client.me("IGAAnot-a-token-at-all-1234")
    assert unknown.value.meta_code == 190
    env.sandbox.revoke_tokens(OTHER)
    with pytest.raises(TokenInvalidError):
        await env.client.publishing_limit(OTHER, OTHER_TOKEN)
    env.clock.advance(5_184_000)
    with pytest.raises(TokenInvalidError) as expired:
        await env.client.refresh_token(TOKEN)
    assert expired.value.subcode == 463


# --- publishing ----------------------------------------------------------------------------------------


async def test_image_post_from_container_to_permalink(env: Env) -> None:
    container = await env.client.create_container(
        IG,
        TOKEN,
        media_type="IMAGE",
        image_url="https://img/a.jpg",
        caption="Full time: 3-1 #fc @coach",
        alt_text="Players",
    )
    assert await env.client.container_status(container, TOKEN) == "IN_PROGRESS"
    with pytest.raises(ContainerNotReadyError):
        await env.client.publish(IG, TOKEN, container)
    env.clock.advance(5)
    assert await env.client.container_status(container, TOKEN) == "FINISHED"

    media_id = await env.client.publish(IG, TOKEN, container)
    assert await env.client.container_status(container, TOKEN) == "PUBLISHED"
    assert (await env.client.permalink(media_id, TOKEN)).startswith("https://www.instagram.com/p/")
    comment_id = await env.client.comment(media_id, TOKEN, "Tickets for the next match: link in bio")
    limit = await env.client.publishing_limit(IG, TOKEN)
    assert (limit.quota_usage, limit.quota_total, limit.window_seconds, limit.remaining) == (1, 100, 86400, 99)

    [published] = env.sandbox.published_media()
    assert published["id"] == media_id and published["caption"] == "Full time: 3-1 #fc @coach"
    assert published["comments"] == [{"id": comment_id, "text": "Tickets for the next match: link in bio"}]
    assert env.sandbox.publish_count(container) == 1


async def test_a_published_container_is_never_published_twice(env: Env) -> None:
    container = await finished_container(env)
    await env.client.publish(IG, TOKEN, container)
    with pytest.raises(PermanentError):
        await env.client.publish(IG, TOKEN, container)
    assert env.sandbox.publish_count(container) == 1
    assert env.sandbox.publishes_by_caption() == {"Matchday! #fc": 1}


async def test_carousel_of_finished_items(env: Env) -> None:
    children = [
        await env.client.create_container(
            IG,
            TOKEN,
            media_type="IMAGE",
            image_url=f"https://img/{i}.jpg",
            is_carousel_item=True,
            caption="ignored on items",
        )
        for i in range(3)
    ]
    with pytest.raises(ContainerNotReadyError):  # items must be FINISHED first
        await env.client.create_container(IG, TOKEN, media_type="CAROUSEL", children=children, caption="Gallery")
    env.clock.advance(5)
    with pytest.raises(PermanentError) as too_few:
        await env.client.create_container(IG, TOKEN, media_type="CAROUSEL", children=children[:1])
    assert too_few.value.subcode == 2207028
    carousel = await env.client.create_container(IG, TOKEN, media_type="CAROUSEL", children=children, caption="Gallery")
    env.clock.advance(5)
    await env.client.publish(IG, TOKEN, carousel)
    [published] = env.sandbox.published_media()
    assert published["media_type"] == "CAROUSEL_ALBUM" and published["caption"] == "Gallery"
    assert published["image_urls"] == ["https://img/0.jpg", "https://img/1.jpg", "https://img/2.jpg"]


async def test_story(env: Env) -> None:
    story = await env.client.create_container(IG, TOKEN, media_type="STORIES", image_url="https://img/s.jpg")
    env.clock.advance(5)
    await env.client.publish(IG, TOKEN, story)
    assert env.sandbox.published_media()[0]["media_type"] == "STORIES"


async def test_bad_parameters_and_caption_limits_are_permanent(env: Env) -> None:
    with pytest.raises(PermanentError):
        await env.client.create_container(IG, TOKEN, media_type="IMAGE")
    with pytest.raises(PermanentError) as caption:
        await env.client.create_container(
            IG,
            TOKEN,
            media_type="IMAGE",
            image_url="https://img/a.jpg",
            caption=" ".join(f"#tag{i}" for i in range(31)),
        )
    assert caption.value.subcode == 2207010 and "hashtags" in caption.value.reason
    with pytest.raises(PermanentError):  # another account's id with this token
        await env.client.create_container(OTHER, TOKEN, media_type="IMAGE", image_url="https://img/a.jpg")


async def test_containers_expire(env: Env) -> None:
    container = await finished_container(env)
    env.clock.advance(86_400)
    assert await env.client.container_status(container, TOKEN) == "EXPIRED"
    with pytest.raises(ContainerExpiredError):
        await env.client.publish(IG, TOKEN, container)


async def test_a_rejected_image_ends_in_error(env: Env) -> None:
    env.sandbox.reject_images("broken")
    container = await env.client.create_container(IG, TOKEN, media_type="IMAGE", image_url="https://img/broken.jpg")
    env.clock.advance(5)
    assert await env.client.container_status(container, TOKEN) == "ERROR"
    with pytest.raises(PermanentError) as failed:
        await env.client.publish(IG, TOKEN, container)
    assert "format" in failed.value.reason


async def test_fetched_images_must_be_jpeg_and_reachable(make_env: Callable[..., Env]) -> None:
    env = make_env(fetch_images=True)
    jpeg = env.sandbox.add_image(b"\xff\xd8\xff\xe0" + b"\0" * 64 + b"\xff\xd9")
    png = env.sandbox.add_image(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")
    good = await env.client.create_container(
        IG, TOKEN, media_type="IMAGE", image_url=f"{env.base_url}/_sandbox/images/{jpeg}"
    )
    bad = await env.client.create_container(
        IG, TOKEN, media_type="IMAGE", image_url=f"{env.base_url}/_sandbox/images/{png}"
    )
    env.clock.advance(5)
    assert await env.client.container_status(good, TOKEN) == "FINISHED"
    assert await env.client.container_status(bad, TOKEN) == "ERROR"
    with pytest.raises(MediaUnfetchableError):
        await env.client.create_container(
            IG, TOKEN, media_type="IMAGE", image_url=f"{env.base_url}/_sandbox/images/404"
        )


async def test_the_publishing_limit_is_a_sliding_24_hour_window(make_env: Callable[..., Env]) -> None:
    env = make_env(publish_limit=2)
    for _ in range(2):
        await env.client.publish(IG, TOKEN, await finished_container(env))
        env.clock.advance(3600)
    container = await finished_container(env)
    with pytest.raises(PublishLimitError):
        await env.client.publish(IG, TOKEN, container)
    assert (await env.client.publishing_limit(IG, TOKEN)).remaining == 0
    env.clock.advance(86_400 - 2 * 3600)  # the first publish leaves the window
    await env.client.publish(IG, TOKEN, container)


# --- faults, timeouts, throttling ----------------------------------------------------------------------


async def test_injected_meta_errors_arrive_typed(env: Env) -> None:
    env.sandbox.faults.add(kind="create", code=-1, subcode=2207001, http_status=500, count=1)
    with pytest.raises(TransientError):
        await env.client.create_container(IG, TOKEN, media_type="IMAGE", image_url="https://img/a.jpg")
    env.sandbox.faults.add(kind="limit", code=4, http_status=400, count=1)
    with pytest.raises(ThrottledError):
        await env.client.publishing_limit(IG, TOKEN)
    env.sandbox.faults.add(kind="status", code=None, http_status=502, count=1)
    container = await finished_container(env)
    with pytest.raises(TransientError):
        await env.client.container_status(container, TOKEN)
    env.sandbox.faults.add(kind="publish", code=190, http_status=400, count=1)
    with pytest.raises(TokenInvalidError):
        await env.client.publish(IG, TOKEN, container)
    assert env.sandbox.publish_count(container) == 0


async def test_a_server_error_on_publish_is_an_unknown_outcome(env: Env) -> None:
    container = await finished_container(env)
    env.sandbox.faults.add(kind="publish", code=-1, subcode=2207001, http_status=500, after=True, count=1)
    with pytest.raises(UnknownOutcomeError) as lost:
        await env.client.publish(IG, TOKEN, container)
    assert lost.value.subcode == 2207001
    assert await env.client.container_status(container, TOKEN) == "PUBLISHED"  # it did go out


async def test_a_dropped_publish_is_an_unknown_outcome_and_took_effect(env: Env) -> None:
    container = await finished_container(env)
    env.sandbox.faults.add(kind="publish", action="drop", after=True, count=1)
    with pytest.raises(UnknownOutcomeError):
        await env.client.publish(IG, TOKEN, container)
    assert await env.client.container_status(container, TOKEN) == "PUBLISHED"
    assert env.sandbox.publish_count(container) == 1


async def test_a_publish_timeout_before_the_effect_is_unknown_and_did_not_publish(env: Env) -> None:
    container = await finished_container(env)
    env.sandbox.faults.add(kind="publish", action="timeout", hang=5, count=1)
    with pytest.raises(UnknownOutcomeError):
        await env.client.publish(IG, TOKEN, container)
    assert await env.client.container_status(container, TOKEN) == "FINISHED"
    assert env.sandbox.publish_count(container) == 0


async def test_timeouts_on_reads_are_transient(env: Env) -> None:
    container = await finished_container(env)
    env.sandbox.faults.add(kind="status", action="timeout", hang=5, count=1)
    with pytest.raises(TransientError):
        await env.client.container_status(container, TOKEN)
    assert await env.client.container_status(container, TOKEN) == "FINISHED"


async def test_slow_responses_still_succeed(env: Env) -> None:
    fault = env.sandbox.faults.add(kind="limit", action="slow", delay=0.1)
    assert (await env.client.publishing_limit(IG, TOKEN)).quota_usage == 0
    assert fault.fired == 1


async def test_an_unreachable_api_is_transient_even_for_publish(env: Env) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = InstagramClient(
        httpx.AsyncClient(timeout=CLIENT_TIMEOUT),
        graph_url=f"http://127.0.0.1:{port}",
        oauth_url=f"http://127.0.0.1:{port}",
        api_version="v25.0",
    )
    with pytest.raises(TransientError):  # the request never left: nothing can have been published
        await client.publish(IG, TOKEN, "123")


async def test_faults_can_target_one_account(env: Env) -> None:
    env.sandbox.faults.add(kind="any", code=4, http_status=400, ig_user_id=OTHER)
    with pytest.raises(ThrottledError):
        await env.client.publishing_limit(OTHER, OTHER_TOKEN)
    assert (await env.client.publishing_limit(IG, TOKEN)).quota_usage == 0


async def test_a_throttled_account_says_when_it_regains_access(env: Env) -> None:
    env.sandbox.throttle(OTHER, 600)
    with pytest.raises(ThrottledError) as throttled:
        await env.client.publishing_limit(OTHER, OTHER_TOKEN)
    assert throttled.value.meta_code == 80002 and throttled.value.retry_after == 600
    usage = env.client.usage_for(OTHER)
    assert usage is not None and usage.call_count_pct == 100 and usage.regain_seconds == 600
    env.clock.advance(600)
    await env.client.publishing_limit(OTHER, OTHER_TOKEN)


async def test_usage_headers_track_each_account(make_env: Callable[..., Env]) -> None:
    env = make_env(calls_per_hour=10)
    container = await env.client.create_container(IG, TOKEN, media_type="IMAGE", image_url="https://img/a.jpg")
    for _ in range(8):
        await env.client.container_status(container, TOKEN)  # attributed to IG through the container
    usage = env.client.usage_for(IG)
    assert usage is not None and usage.call_count_pct == 90 and usage.throttled
    await env.client.publishing_limit(OTHER, OTHER_TOKEN)
    other = env.client.usage_for(OTHER)
    assert other is not None and other.call_count_pct == 10 and not other.throttled
    await env.client.container_status(container, TOKEN)
    with pytest.raises(ThrottledError):  # the 11th call in the hour is over budget
        await env.client.container_status(container, TOKEN)
    env.clock.advance(3600)
    assert await env.client.container_status(container, TOKEN) == "FINISHED"


# --- secrets -------------------------------------------------------------------------------------------


async def test_tokens_never_reach_exceptions_or_logs(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    errors: list[Exception] = []
    try:
        env.sandbox.faults.add(
            kind="status", code=100, http_status=400, message=f"Invalid parameter access_token={TOKEN}", count=1
        )
        env.sandbox.faults.add(kind="publish", action="timeout", hang=5, count=1)
        container = await finished_container(env)
        for call in (
            env.client.container_status(container, TOKEN),
            env.client.publish(IG, TOKEN, container),
            env.client.me("IGAAbogus-token-value-123456"),
            env.client.exchange_long_lived(TOKEN),
        ):
            try:
                await call
            except Exception as exc:  # collected to inspect every message
                errors.append(exc)
    finally:
        root.removeHandler(handler)
    assert len(errors) == 4
    secrets = (TOKEN, "IGAAbogus-token-value-123456", get_settings().secret("instagram_app_secret"))
    for error in errors:
        text = f"{error!s} {error!r} {getattr(error, 'reason', '')} {error.args} {error.__cause__!r}"
        assert not any(secret in text for secret in secrets), text
    ours = [
        r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records if r.name.startswith("sociallab")
    ]
    assert ours and not any(secret in line for line in ours for secret in secrets)
    assert stream.getvalue() and not any(secret in stream.getvalue() for secret in secrets)


async def test_recent_media_lists_the_feed_newest_first_without_stories(env: Env) -> None:
    first = await finished_container(env, caption="First post #fc")
    first_id = await env.client.publish(IG, TOKEN, first)
    env.clock.advance(60)
    story = await env.client.create_container(IG, TOKEN, media_type="STORIES", image_url="https://img/s.jpg")
    env.clock.advance(5)
    await env.client.publish(IG, TOKEN, story)
    second = await finished_container(env, caption="Second post")
    second_id = await env.client.publish(IG, TOKEN, second)
    other = await env.client.create_container(
        OTHER, OTHER_TOKEN, media_type="IMAGE", image_url="https://img/o.jpg", caption="not ours"
    )
    env.clock.advance(5)
    await env.client.publish(OTHER, OTHER_TOKEN, other)

    media = await env.client.recent_media(IG, TOKEN)

    assert [m.id for m in media] == [second_id, first_id]  # newest first; no story, no other account
    by_id = {m["id"]: m for m in env.sandbox.published_media()}
    newest = media[0]
    assert newest.caption == "Second post" and newest.permalink == by_id[second_id]["permalink"]
    assert newest.timestamp is not None and newest.timestamp.utcoffset() == timedelta(0)
    assert newest.timestamp.timestamp() == int(by_id[second_id]["published_at"])
    assert media[1].timestamp is not None and media[1].timestamp < newest.timestamp
    assert await env.client.recent_media(IG, TOKEN, limit=1) == [newest]  # only the first page
    assert env.sandbox.calls["media_list"] == 2
    # The media ids it returned are remembered as the account's (usage headers land on the account).
    assert (await env.client.permalink(first_id, TOKEN)) == by_id[first_id]["permalink"]


async def test_recent_media_errors_are_classified_like_every_read(env: Env) -> None:
    assert await env.client.recent_media(IG, TOKEN) == []
    env.sandbox.faults.add(kind="media_list", action="timeout", hang=5, count=1)
    with pytest.raises(TransientError):  # a lost answer on a read: safe to ask again
        await env.client.recent_media(IG, TOKEN)
    env.sandbox.faults.add(kind="media_list", action="drop", after=True, count=1)
    with pytest.raises(TransientError):
        await env.client.recent_media(IG, TOKEN)
    env.sandbox.faults.add(kind="media_list", code=4, http_status=400, is_transient=True, count=1)
    with pytest.raises(ThrottledError):
        await env.client.recent_media(IG, TOKEN)
    with pytest.raises(TokenInvalidError):
        await env.client.recent_media(IG, "IGAAnot-a-token")
    with pytest.raises(PermanentError):  # another account's media edge
        await env.client.recent_media(OTHER, TOKEN)
    assert await env.client.recent_media(IG, TOKEN) == []
