"""Instagram's post rules: caption length, hashtags, mentions, image counts and shapes."""

from __future__ import annotations

import pytest

from sociallab.errors import RequestValidationError
from sociallab.scheduling.validation import (
    ImageSize,
    check_post,
    hashtags_in,
    instagram_caption,
    mentions_in,
    normalize_hashtags,
)

pytestmark = pytest.mark.unit

FEED = ImageSize(1080, 1350)


def rules(exc: pytest.ExceptionInfo[RequestValidationError]) -> list[tuple[str, str]]:
    return [(d["field"], d["type"]) for d in exc.value.details]


def check(**overrides: object) -> None:
    post: dict[str, object] = {
        "media_type": "IMAGE",
        "caption": "Full time!",
        "hashtags": [],
        "first_comment": None,
        "alt_text": None,
        "images": [FEED],
    }
    check_post(**{**post, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#win #Goal_2 great #1", ["win", "Goal_2", "1"]),
        ("C# and F# are not tags", []),
        ("html &#39; entity and ##double", []),
        ("#ÉlClásico #日本", ["ÉlClásico", "日本"]),
        ("#win#again", ["win"]),  # Instagram links only the first of two joined tags
        ("no tags here", []),
        ("#win #win", ["win", "win"]),  # every occurrence counts
    ],
)
def test_hashtags_are_counted_like_instagram(text: str, expected: list[str]) -> None:
    assert hashtags_in(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thanks @coach and @the.club_", ["coach", "the.club_"]),
        ("mail info@club.com", []),
        ("end of sentence @coach.", ["coach"]),
        ("@a @b", ["a", "b"]),
        ("@@double", []),
    ],
)
def test_mentions_are_counted_like_instagram(text: str, expected: list[str]) -> None:
    assert mentions_in(text) == expected


def test_caption_of_2200_characters_passes_and_2201_fails() -> None:
    check(caption="x" * 2200)
    with pytest.raises(RequestValidationError) as exc:
        check(caption="x" * 2201)
    assert rules(exc) == [("caption", "too_long")]


def test_appended_hashtags_count_towards_the_length() -> None:
    caption = "x" * 2190
    with pytest.raises(RequestValidationError) as exc:
        check(caption=caption, hashtags=["#matchday"])
    assert rules(exc) == [("caption", "too_long")]


def test_thirty_hashtags_pass_and_thirty_one_fail_counting_the_hashtag_list() -> None:
    in_caption = " ".join(f"#t{i}" for i in range(25))
    check(caption=in_caption, hashtags=[f"#x{i}" for i in range(5)])
    with pytest.raises(RequestValidationError) as exc:
        check(caption=in_caption, hashtags=[f"#x{i}" for i in range(6)])
    assert rules(exc) == [("caption", "too_many_hashtags")]


def test_a_hashtag_in_both_caption_and_list_is_counted_once() -> None:
    caption = " ".join(f"#t{i}" for i in range(30))
    check(caption=caption, hashtags=["#t0", "#T1"])
    assert instagram_caption(caption, ["#t0", "#T1"]) == caption


def test_twenty_mentions_pass_and_twenty_one_fail() -> None:
    check(caption=" ".join(f"@player{i}" for i in range(20)))
    with pytest.raises(RequestValidationError) as exc:
        check(caption=" ".join(f"@player{i}" for i in range(21)))
    assert rules(exc) == [("caption", "too_many_mentions")]


def test_the_first_comment_has_limits_too() -> None:
    with pytest.raises(RequestValidationError) as exc:
        check(first_comment=" ".join(f"#c{i}" for i in range(31)))
    assert rules(exc) == [("first_comment", "too_many_hashtags")]
    with pytest.raises(RequestValidationError) as exc:
        check(first_comment="x" * 2201, alt_text="y" * 1001)
    assert rules(exc) == [("first_comment", "too_long"), ("alt_text", "too_long")]


@pytest.mark.parametrize(
    ("media_type", "count", "ok"),
    [
        ("IMAGE", 1, True),
        ("IMAGE", 0, False),
        ("IMAGE", 2, False),
        ("STORY", 1, True),
        ("STORY", 2, False),
        ("CAROUSEL", 1, False),
        ("CAROUSEL", 2, True),
        ("CAROUSEL", 10, True),
        ("CAROUSEL", 11, False),
    ],
)
def test_image_counts(media_type: str, count: int, ok: bool) -> None:
    images = [ImageSize(1080, 1920) if media_type == "STORY" else FEED] * count
    if ok:
        check(media_type=media_type, images=images)
    else:
        with pytest.raises(RequestValidationError) as exc:
            check(media_type=media_type, images=images)
        assert rules(exc) == [("asset_ids", "image_count")]


@pytest.mark.parametrize(
    ("size", "ok"),
    [((1080, 1350), True), ((1080, 1080), True), ((1910, 1000), True), ((1080, 1920), False), ((2000, 1000), False)],
)
def test_feed_images_must_be_between_4_5_and_1_91_1(size: tuple[int, int], ok: bool) -> None:
    images = [FEED, ImageSize(*size)]
    if ok:
        check(media_type="CAROUSEL", images=images)
    else:
        with pytest.raises(RequestValidationError) as exc:
            check(media_type="CAROUSEL", images=images)
        assert rules(exc) == [("asset_ids.1", "aspect_ratio")]


def test_a_story_may_be_tall_and_unknown_sizes_are_not_judged() -> None:
    check(media_type="STORY", images=[ImageSize(1080, 1920)])
    check(images=[ImageSize(None, None)])


def test_unknown_media_type() -> None:
    with pytest.raises(RequestValidationError) as exc:
        check(media_type="REEL")
    assert rules(exc) == [("media_type", "media_type")]


def test_hashtag_list_is_normalised_and_deduplicated() -> None:
    assert normalize_hashtags(["matchday", "#MatchDay", " #Goal ", "#日本"]) == ["#matchday", "#Goal", "#日本"]
    for bad in ["two words", "#", "#a-b", ""]:
        with pytest.raises(RequestValidationError):
            normalize_hashtags([bad])


def test_instagram_caption_appends_missing_hashtags() -> None:
    assert instagram_caption("Win! #goal", ["#goal", "#matchday"]) == "Win! #goal\n\n#matchday"
    assert instagram_caption("", ["#a"]) == "#a"
    assert instagram_caption(None, []) == ""
    # Stored tags are normalised already; anything else is made a tag once, blanks skipped.
    assert instagram_caption("Win! #derby", ["derby", "#Goals", "#goals", " "]) == "Win! #derby\n\n#Goals"
    assert instagram_caption("#derbyday", ["#derby"]) == "#derbyday\n\n#derby"
    assert instagram_caption(None, ["a"]) == "#a"


def test_the_caption_checked_is_the_caption_sent() -> None:
    """One text for both: `##team` is no hashtag to the counting, so #team is added for it too;
    surrounding whitespace is neither sent nor counted; no caption is ''."""
    assert instagram_caption("Go ##team", ["#team"]) == "Go ##team\n\n#team"
    assert hashtags_in(instagram_caption("Go ##team", ["#team"])) == ["team"]
    assert instagram_caption("  \n Full time!  ", []) == "Full time!"
    assert instagram_caption("  ", []) == ""
    check(caption="   " + "x" * 2200)
    with pytest.raises(RequestValidationError) as exc:
        check(caption="x" * 2199, hashtags=["#a"])  # 2199 + blank line + #a
    assert rules(exc) == [("caption", "too_long")]
