"""What Instagram accepts in a post, checked before anything is stored (422 with field details).

Counting follows Instagram's rules (DESIGN.md §5): a caption of at most 2200 characters with at
most 30 hashtags and 20 @mentions. The text counted is the caption Instagram will receive, made by
`instagram_caption`, the one function that says what that is (publish-due sends its result, and
captions are written to fit it), so a caption cannot pass here and fail at publish time.

- A hashtag is `#` followed by letters, digits or `_`, not preceded by a letter, digit, `_`, `#`
  or `&` (so `C#`, `&#39;` and `##` are not counted); every occurrence counts.
- A mention is `@` followed by 1-30 letters, digits, `.` or `_` (trailing dots dropped), not
  preceded by a letter, digit, `_` or `.` (so e-mail addresses are not counted); every occurrence counts.
- IMAGE and STORY posts have one image, CAROUSEL 2-10. Feed images (IMAGE, CAROUSEL) must be
  between 4:5 and 1.91:1 when their size is known.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sociallab.errors import RequestValidationError

MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
MAX_ALT_TEXT = 1000
MAX_FIRST_COMMENT = 2200
MEDIA_TYPES = ("IMAGE", "CAROUSEL", "STORY")
IMAGE_COUNTS = {"IMAGE": (1, 1), "STORY": (1, 1), "CAROUSEL": (2, 10)}
FEED_RATIO = (4 / 5, 1.91)
RATIO_TOLERANCE = 0.01
MIN_WIDTH = 320  # Instagram's narrowest image; a wider one is published as a rendition (<= 1,080 px wide)

HASHTAG = re.compile(r"(?<![\w#&])#(\w+)")
MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9._]{1,30})")
_HASHTAG_ITEM = re.compile(r"^#?(\w{1,100})$")
# The same rule as the OpenAPI document states it (surrounding space is trimmed before matching).
HASHTAG_ITEM_PATTERN = r"^\s*#?\w{1,100}\s*$"


def hashtags_in(text: str) -> list[str]:
    """Every hashtag occurrence in `text`, without the `#`."""
    return HASHTAG.findall(text or "")


def mentions_in(text: str) -> list[str]:
    """Every @mention occurrence in `text`, without the `@`."""
    found = [name.rstrip(".") for name in MENTION.findall(text or "")]
    return [name for name in found if name]


def normalize_hashtags(tags: Sequence[str]) -> list[str]:
    """`tags` as `#tag`, in order, without case-insensitive duplicates.

    Raises:
        RequestValidationError: a tag is not a single hashtag word.
    """
    out: list[str] = []
    seen: set[str] = set()
    for index, tag in enumerate(tags):
        match = _HASHTAG_ITEM.match(tag.strip()) if isinstance(tag, str) else None
        if match is None:
            raise RequestValidationError(
                "A hashtag is invalid.",
                details=[
                    {"field": f"hashtags.{index}", "message": "Use letters, digits or _ only.", "type": "hashtag"}
                ],
            )
        word = match.group(1)
        if word.lower() not in seen:
            seen.add(word.lower())
            out.append("#" + word)
    return out


def instagram_caption(caption: str | None, hashtags: Sequence[str]) -> str:
    """The caption Instagram receives for a post: `caption` without surrounding whitespace, then a
    blank line and each of `hashtags` (`#` added where missing, blanks and case-insensitive repeats
    skipped) that the text does not contain as a hashtag yet (by `hashtags_in`: `##tag` does not
    count). `''` when there is nothing: the post goes out without a caption."""
    text = (caption or "").strip()
    seen = {tag.lower() for tag in hashtags_in(text)}
    extra: list[str] = []
    for raw in hashtags:
        tag = raw.strip().removeprefix("#")
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            extra.append(f"#{tag}")
    if not extra:
        return text
    return f"{text}\n\n{' '.join(extra)}" if text else " ".join(extra)


@dataclass(frozen=True)
class ImageSize:
    width: int | None
    height: int | None


def _detail(field: str, message: str, kind: str) -> dict[str, Any]:
    return {"field": field, "message": message, "type": kind}


def caption_problems(caption: str | None, hashtags: Sequence[str], first_comment: str | None) -> list[dict[str, Any]]:
    """The caption rules `caption` + `hashtags` (and the first comment) break, as details."""
    problems: list[dict[str, Any]] = []
    text = instagram_caption(caption, hashtags)
    if len(text) > MAX_CAPTION:
        problems.append(
            _detail("caption", f"At most {MAX_CAPTION} characters including hashtags ({len(text)}).", "too_long")
        )
    tags = len(hashtags_in(text))
    if tags > MAX_HASHTAGS:
        problems.append(_detail("caption", f"At most {MAX_HASHTAGS} hashtags ({tags}).", "too_many_hashtags"))
    mentions = len(mentions_in(text))
    if mentions > MAX_MENTIONS:
        problems.append(_detail("caption", f"At most {MAX_MENTIONS} @mentions ({mentions}).", "too_many_mentions"))
    if first_comment is not None:
        if len(first_comment) > MAX_FIRST_COMMENT:
            problems.append(_detail("first_comment", f"At most {MAX_FIRST_COMMENT} characters.", "too_long"))
        if len(hashtags_in(first_comment)) > MAX_HASHTAGS:
            problems.append(_detail("first_comment", f"At most {MAX_HASHTAGS} hashtags.", "too_many_hashtags"))
    return problems


def image_problems(media_type: str, images: Sequence[ImageSize]) -> list[dict[str, Any]]:
    """The image rules of `media_type` that `images` break, as details."""
    if media_type not in IMAGE_COUNTS:
        return [_detail("media_type", f"One of {', '.join(MEDIA_TYPES)}.", "media_type")]
    low, high = IMAGE_COUNTS[media_type]
    count = len(images)
    if not low <= count <= high:
        wanted = f"exactly {low}" if low == high else f"{low} to {high}"
        return [_detail("asset_ids", f"A {media_type.lower()} post has {wanted} images ({count}).", "image_count")]
    problems: list[dict[str, Any]] = []
    for index, image in enumerate(images):
        if not (image.width and image.height):
            continue
        which = f"Image {index + 1} ({image.width}x{image.height})"
        if image.width < MIN_WIDTH:
            problems.append(
                _detail(
                    f"asset_ids.{index}", f"{which} is too small: Instagram needs {MIN_WIDTH} px wide.", "too_small"
                )
            )
        ratio = image.width / image.height
        if media_type != "STORY" and not FEED_RATIO[0] - RATIO_TOLERANCE <= ratio <= FEED_RATIO[1] + RATIO_TOLERANCE:
            problems.append(
                _detail(
                    f"asset_ids.{index}",
                    f"{which}: feed images must be between 4:5 and 1.91:1; crop it, or post it as a story.",
                    "aspect_ratio",
                )
            )
    return problems


def check_post(
    *,
    media_type: str,
    caption: str | None,
    hashtags: Sequence[str],
    first_comment: str | None,
    alt_text: str | None,
    images: Sequence[ImageSize],
) -> None:
    """Check a whole post against Instagram's rules.

    Raises:
        RequestValidationError: one detail per broken rule.
    """
    problems = image_problems(media_type, images) + caption_problems(caption, hashtags, first_comment)
    if alt_text is not None and len(alt_text) > MAX_ALT_TEXT:
        problems.append(_detail("alt_text", f"At most {MAX_ALT_TEXT} characters.", "too_long"))
    if problems:
        raise RequestValidationError("The post breaks Instagram's rules.", details=problems)
