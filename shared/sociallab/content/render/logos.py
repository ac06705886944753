"""Decoding a brand logo within the limits intake sets: pixel ceilings, the decode budget, no
full-size copies.

A logo is usually the original PNG or WebP of an asset (its transparency matters), a format that
cannot be decoded at a reduced size; an oversized one must not take generate-content's memory.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from PIL import Image

from sociallab.content.decode_budget import decode_budget
from sociallab.content.decoding import decoder_errors, open_source
from sociallab.content.fitting import contained_size, fit_rgba, orient
from sociallab.content.intake import sniff

_ORIENTATION = 0x0112
_ROTATED = {5, 6, 7, 8}
_CACHE_SIZE = 16
_cache: OrderedDict[tuple[bytes, int, int], Image.Image] = OrderedDict()
_cache_lock = threading.Lock()


def fitted_logo(blob: bytes, width: int, height: int) -> Image.Image:
    """`decode_logo`, cached by content: every post of a brand reuses it (the cache keeps digests,
    not the files, which may be large).

    Raises:
        UnsupportedMediaTypeError, UnprocessableError, PayloadTooLargeError, DependencyUnavailableError:
            see `decode_logo`.
    """
    key = (hashlib.sha256(blob).digest(), width, height)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    image = decode_logo(blob, width, height)
    with _cache_lock:
        _cache[key] = image
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return image


def decode_logo(blob: bytes, width: int, height: int) -> Image.Image:
    """`blob` as an upright RGBA image fitted inside `width` x `height` (aspect kept, as
    `ImageOps.contain`), decoded within the process's decode budget (blocking: call it from a
    worker thread).

    Raises:
        UnsupportedMediaTypeError: not JPEG, PNG, WebP or HEIC.
        UnprocessableError: empty, corrupt, or over its format's pixel ceiling.
        PayloadTooLargeError: it needs more memory than the whole decode budget.
        DependencyUnavailableError: the decode budget stayed full.
    """
    kind = sniff(blob[:64])
    with decoder_errors(), open_source(blob, kind, reduce_to=max(width, height)) as source:
        with decode_budget().hold_blocking(source.cost):
            source.load()
            orientation = source.exif().get(_ORIENTATION, 1)
            box = (height, width) if orientation in _ROTATED else (width, height)
            return orient(fit_rgba(source, contained_size(source.size, box)), orientation)
