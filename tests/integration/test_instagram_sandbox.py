"""The Instagram sandbox itself over HTTP: Meta's payload shapes, control routes, faults, concurrency."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from sociallab.dev.sandboxes.instagram import Fault, InstagramSandbox
from tests.plugins.instagram import ManualClock

pytestmark = pytest.mark.integration

IG = "17841400000000009"
TOKEN = "IGAAsandboxToken-for-sandbox-tests-0001"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        yield client


@pytest.fixture
def sandbox(make_instagram_sandbox: Callable[..., tuple[InstagramSandbox, str]]) -> tuple[InstagramSandbox, str]:
    sandbox, base_url = make_instagram_sandbox(container_ready_after=0.0, clock=ManualClock(), seed=7)
    sandbox.add_account(ig_user_id=IG, username="fc_sandbox", token=TOKEN)
    return sandbox, base_url


async def create(http: httpx.AsyncClient, base_url: str, caption: str = "c") -> str:
    reply = await http.post(
        f"{base_url}/v25.0/{IG}/media",
        data={"image_url": "https://img/a.jpg", "caption": caption, "access_token": TOKEN},
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["id"])


async def test_errors_have_metas_payload_shape(sandbox: tuple[InstagramSandbox, str], http: httpx.AsyncClient) -> None:
    _, base_url = sandbox
    reply = await http.get(f"{base_url}/v25.0/me", params={"fields": "username", "access_token": "nope"})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert (error["code"], error["type"]) == (190, "OAuthException")
    assert isinstance(error["message"], str) and error["fbtrace_id"]
    unknown = await http.get(f"{base_url}/v25.0/{IG}/something/else", params={"access_token": TOKEN})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == 100


async def test_every_answer_carries_usage_headers(
    sandbox: tuple[InstagramSandbox, str], http: httpx.AsyncClient
) -> None:
    _, base_url = sandbox
    reply = await http.get(f"{base_url}/me", params={"fields": "user_id,username", "access_token": TOKEN})
    assert reply.json()["user_id"] == IG  # the version prefix is optional
    assert set(json.loads(reply.headers["x-app-usage"])) == {"call_count", "total_time", "total_cputime"}
    [entry] = json.loads(reply.headers["x-business-use-case-usage"])[IG]
    assert entry["type"] == "instagram" and "estimated_time_to_regain_access" in entry


async def test_parameters_may_come_in_the_query_string(
    sandbox: tuple[InstagramSandbox, str], http: httpx.AsyncClient
) -> None:
    sandbox_, base_url = sandbox
    container = await create(http, base_url)
    reply = await http.post(
        f"{base_url}/v25.0/{IG}/media_publish", params={"creation_id": container, "access_token": TOKEN}
    )
    assert reply.status_code == 200 and sandbox_.publish_count(container) == 1


async def test_control_routes_drive_the_sandbox(sandbox: tuple[InstagramSandbox, str], http: httpx.AsyncClient) -> None:
    sandbox_, base_url = sandbox
    added = await http.post(
        f"{base_url}/_sandbox/accounts",
        json={"ig_user_id": "555", "username": "new_club", "token": "IGAAnew-token-555-abcdef"},
    )
    assert added.status_code == 201 and "555" in sandbox_.accounts
    code = (await http.post(f"{base_url}/_sandbox/codes", json={"ig_user_id": "555"})).json()["code"]
    assert code in sandbox_.codes
    fault = await http.post(f"{base_url}/_sandbox/faults", json={"kind": "limit", "code": 4, "http_status": 400})
    assert fault.status_code == 201 and fault.json()["kind"] == "limit"
    limited = await http.get(f"{base_url}/v25.0/{IG}/content_publishing_limit", params={"access_token": TOKEN})
    assert limited.json()["error"]["code"] == 4
    assert (await http.delete(f"{base_url}/_sandbox/faults")).status_code == 204
    assert (await http.post(f"{base_url}/_sandbox/throttle", json={"ig_user_id": "555", "seconds": 60})).is_success
    assert (await http.post(f"{base_url}/_sandbox/revoke", json={"ig_user_id": IG})).is_success
    revoked = await http.get(f"{base_url}/v25.0/me", params={"access_token": TOKEN})
    assert revoked.json()["error"]["code"] == 190
    image = await http.post(
        f"{base_url}/_sandbox/images", content=b"\xff\xd8\xff-jpeg", headers={"content-type": "image/jpeg"}
    )
    assert (await http.get(image.json()["url"])).content == b"\xff\xd8\xff-jpeg"

    state = (await http.get(f"{base_url}/_sandbox/state")).json()
    assert {a["ig_user_id"] for a in state["accounts"]} == {IG, "555"}
    assert state["calls"]["limit"] == 1 and state["faults"] == []
    assert TOKEN not in json.dumps(state) and "IGAAnew-token-555-abcdef" not in json.dumps(state)


async def test_bad_control_requests_are_400(sandbox: tuple[InstagramSandbox, str], http: httpx.AsyncClient) -> None:
    _, base_url = sandbox
    assert (await http.post(f"{base_url}/_sandbox/faults", json={"kind": "everything"})).status_code == 400
    assert (await http.post(f"{base_url}/_sandbox/faults", content=b"{not json")).status_code == 400
    assert (await http.post(f"{base_url}/_sandbox/codes", json={"ig_user_id": "nobody"})).status_code == 400
    assert (await http.get(f"{base_url}/_sandbox/nothing")).status_code == 404


async def test_the_consent_page_redirects_with_code_and_state(
    sandbox: tuple[InstagramSandbox, str], http: httpx.AsyncClient
) -> None:
    sandbox_, base_url = sandbox
    reply = await http.get(
        f"{base_url}/oauth/authorize", params={"client_id": "x", "redirect_uri": "https://app/cb", "state": "abc"}
    )
    location = httpx.URL(reply.headers["location"])
    assert reply.status_code == 302 and location.host == "app" and location.params["state"] == "abc"
    assert location.params["code"] in sandbox_.codes


def test_faults_fire_by_count_and_probability() -> None:
    sandbox = InstagramSandbox(seed=1)
    once = sandbox.faults.add(kind="publish", count=2)
    assert [sandbox.faults.pick("publish", "1", after=False) is once for _ in range(3)] == [True, True, False]
    assert sandbox.faults.pick("status", "1", after=False) is None
    sandbox.faults.clear()
    sometimes = sandbox.faults.add(Fault(kind="any", probability=0.2))
    hits = sum(sandbox.faults.pick("create", "1", after=False) is not None for _ in range(1000))
    assert 150 < hits < 250 and sometimes.fired == hits
    with pytest.raises(ValueError):
        Fault(action="explode")  # type: ignore[arg-type]


async def test_concurrent_publishes_of_one_container_create_one_media(
    sandbox: tuple[InstagramSandbox, str], http: httpx.AsyncClient
) -> None:
    sandbox_, base_url = sandbox
    container = await create(http, base_url, caption="only once")
    replies = await asyncio.gather(
        *[
            http.post(f"{base_url}/v25.0/{IG}/media_publish", data={"creation_id": container, "access_token": TOKEN})
            for _ in range(50)
        ]
    )
    assert sorted(r.status_code for r in replies) == [200] + [400] * 49
    assert sandbox_.publish_count(container) == 1 and sandbox_.publishes_by_caption() == {"only once": 1}
    assert sandbox_.calls["publish"] == 50


async def test_many_accounts_publish_concurrently_with_latency(
    make_instagram_sandbox: Callable[..., tuple[InstagramSandbox, str]], http: httpx.AsyncClient
) -> None:
    sandbox, base_url = make_instagram_sandbox(container_ready_after=0.0, latency=0.05)
    for i in range(20):
        sandbox.add_account(ig_user_id=f"acct{i}", username=f"club{i}", token=f"IGAAtoken-{i:04d}-abcdef")

    async def post_one(i: int) -> None:
        token, ig = f"IGAAtoken-{i % 20:04d}-abcdef", f"acct{i % 20}"
        made = await http.post(
            f"{base_url}/v25.0/{ig}/media",
            data={"image_url": "https://img/a.jpg", "caption": f"post {i}", "access_token": token},
        )
        published = await http.post(
            f"{base_url}/v25.0/{ig}/media_publish", data={"creation_id": made.json()["id"], "access_token": token}
        )
        assert published.status_code == 200, published.text

    await asyncio.gather(*[post_one(i) for i in range(100)])
    assert sandbox.publishes_by_caption() == {f"post {i}": 1 for i in range(100)}
    assert (sandbox.calls["create"], sandbox.calls["publish"]) == (100, 100)


async def test_the_media_edge_pages_the_feed_newest_first(
    make_instagram_sandbox: Callable[..., tuple[InstagramSandbox, str]], http: httpx.AsyncClient
) -> None:
    clock = ManualClock()
    sandbox_, base_url = make_instagram_sandbox(container_ready_after=0.0, clock=clock)
    sandbox_.add_account(ig_user_id=IG, username="fc_sandbox", token=TOKEN)
    published = []
    for n in range(3):
        container = await create(http, base_url, caption=f"post {n}")
        reply = await http.post(
            f"{base_url}/v25.0/{IG}/media_publish", data={"creation_id": container, "access_token": TOKEN}
        )
        published.append(reply.json()["id"])
        clock.advance(60)
    url = f"{base_url}/v25.0/{IG}/media"

    page = (
        await http.get(url, params={"fields": "id,caption,timestamp,permalink", "limit": 2, "access_token": TOKEN})
    ).json()

    assert [m["id"] for m in page["data"]] == published[:0:-1]  # newest first
    assert set(page["data"][0]) == {"id", "caption", "timestamp", "permalink"}
    assert page["data"][0]["caption"] == "post 2" and page["data"][0]["timestamp"].endswith("+0000")
    assert page["paging"]["cursors"] == {"before": published[2], "after": published[1]} and page["paging"]["next"]
    rest = (await http.get(url, params={"after": published[1], "access_token": TOKEN})).json()
    assert rest["data"] == [{"id": published[0]}] and "next" not in rest["paging"]  # default fields: id
    assert sandbox_.calls["media_list"] == 2 and sandbox_.calls["create"] == 3

    sandbox_.faults.add(Fault(kind="media_list", code=2, http_status=503, count=1))
    failed = await http.get(url, params={"access_token": TOKEN})
    assert failed.status_code == 503 and failed.json()["error"]["code"] == 2
    bad = await http.get(url, params={"limit": "many", "access_token": TOKEN})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 100
    assert (await http.get(url, params={"access_token": TOKEN})).json()["data"][0]["id"] == published[2]
