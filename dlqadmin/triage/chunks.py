"""Pages of a large masked payload ("Load more") without masking it again per page.

A JSON payload is masked as a whole (a page boundary must never split a secret), so
every "Load more" on a 200,000-member document used to re-parse and re-mask all of it:
seconds per chunk. The whole masked text of a large payload is kept here, keyed by the
payload's sha256 and the masker's rule set, and each page is a slice of it.

Only a cache of a pure function (same bytes + same rules = same text): a process that
does not have it masks again, and a changed payload or rule set is a different key.
Bounded in total characters; least recently used entries go first.
"""

import hashlib
import threading
from collections import OrderedDict

from dlqadmin.masking.engine import DEFAULT_LIMIT

# Values whose masked text fits one page gain nothing; huge ones are not kept.
MIN_RAW_BYTES = DEFAULT_LIMIT
MAX_RAW_BYTES = 16 * 1024 * 1024
MAX_CACHED_CHARS = 96 * 1024 * 1024

_lock = threading.Lock()
_cache: OrderedDict = OrderedDict()
_cached_chars = 0


def _get(key):
    with _lock:
        value = _cache.get(key)
        if value is not None:
            _cache.move_to_end(key)
        return value


def _put(key, value):
    global _cached_chars
    size = len(value.text)
    if size > MAX_CACHED_CHARS // 4:
        return
    with _lock:
        if key in _cache:
            return
        _cache[key] = value
        _cached_chars += size
        while _cached_chars > MAX_CACHED_CHARS and _cache:
            _, old = _cache.popitem(last=False)
            _cached_chars -= len(old.text)


def clear():
    global _cached_chars
    with _lock:
        _cache.clear()
        _cached_chars = 0


def _cacheable(raw):
    if raw is None or not MIN_RAW_BYTES < len(raw) <= MAX_RAW_BYTES or b"\x00" in raw:
        return False
    try:
        raw.decode("utf-8")  # invalid UTF-8 is shown as a hex dump, masked per window already
    except UnicodeDecodeError:
        return False
    return True


def masked_page(masker, raw, *, offset=0, limit=DEFAULT_LIMIT, method="mask_payload"):
    """``masker.<method>(raw, limit=limit, offset=offset)``, from the cached whole masked
    text when ``raw`` is large enough to be paged."""
    mask = getattr(masker, method)
    if limit is None or not _cacheable(raw):
        return mask(raw, limit=limit, offset=offset)
    key = (method, hashlib.sha256(raw).digest(), masker.rules)
    full = _get(key)
    if full is None:
        full = mask(raw, limit=None)
        if full.kind == "binary":  # mostly control characters: windows are cheap already
            return mask(raw, limit=limit, offset=offset)
        _put(key, full)
    end = offset + limit
    more = len(full.text) > end
    return full._replace(text=full.text[offset:end], truncated=more or offset > 0,
                         next_offset=end if more else None, offset=offset)
