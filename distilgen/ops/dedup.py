"""Near-duplicate pairs among short texts: MinHash with banding, then exact Jaccard to confirm.

Texts are compared as sets of word bigrams (so `fn(133, b=539)` and `fn(134, b=539)` differ by
whole numbers, not by one character, and the words every example of a function shares weigh
little). Banding keeps the work about linear in the number of texts;
every candidate pair is confirmed with the exact Jaccard similarity, so no pair is reported on a
hash coincidence. Deterministic: the hash seeds are fixed.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from typing import Sequence

__all__ = ["tokens", "jaccard", "near_duplicate_pairs"]

_WORD = re.compile(r"\w+", re.UNICODE)
_BANDS = 8
_ROWS = 4


def tokens(text: str) -> frozenset[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 2:
        return frozenset(words)
    return frozenset(f"{a} {b}" for a, b in zip(words, words[1:]))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


_MASKS = [int.from_bytes(hashlib.blake2b(f"distilgen-minhash-{i}".encode(), digest_size=8).digest(), "big")
          for i in range(_BANDS * _ROWS)]


def _signature(words: frozenset[str]) -> list[int]:
    hashes = [int.from_bytes(hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest(), "big") for w in words] or [0]
    # one XOR-masked ordering of the hashes per row: min-hash without a Python-level loop per item
    return [min(map(mask.__xor__, hashes)) for mask in _MASKS]


def near_duplicate_pairs(texts: Sequence[str], threshold: float = 0.9) -> list[tuple[int, int, float]]:
    """(i, j, similarity) with i < j for every pair at or above `threshold` that is not identical."""
    sets = [tokens(t) for t in texts]
    buckets: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    for idx, words in enumerate(sets):
        sig = _signature(words)
        for band in range(_BANDS):
            buckets[(band, tuple(sig[band * _ROWS:(band + 1) * _ROWS]))].append(idx)
    seen: set[tuple[int, int]] = set()
    out = []
    for members in buckets.values():
        if len(members) < 2 or len(members) > 2000:
            continue  # a huge bucket is a template shared by everything, not a near-duplicate signal
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                if (i, j) in seen or texts[i] == texts[j]:
                    continue
                seen.add((i, j))
                sim = jaccard(sets[i], sets[j])
                if sim >= threshold:
                    out.append((i, j, sim))
    return sorted(out)
