"""What the safe scan cache costs: loading the JSON report (validated) vs a pickle of the same entry,
and the shape-checked marshal index vs a bare `marshal.loads`, measured in the same run.

Corpus: as benchmarks/scan.py (pydantic, openai, libcst site-packages copied to a temporary folder).

    python benchmarks/scan_cache_load.py
"""

from __future__ import annotations

import marshal
import pickle
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from scan import copy_corpus  # noqa: E402

from distilgen import api  # noqa: E402
from distilgen.analysis.cache import ScanCache  # noqa: E402
from distilgen.config import Config  # noqa: E402


def best(fn, n: int = 7) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = copy_corpus(root)
        api.scan([root], config=Config(root=root, cache_dir=str(root / ".distilgen_cache")))
        cache = ScanCache(root / ".distilgen_cache")
        entry = cache.load_results()
        assert entry is not None
        pickled = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        json_s, pickle_s = best(cache.load_results), best(lambda: pickle.loads(pickled))
        index_s = best(cache.load_index, 5)
        bare_s = best(lambda: marshal.loads(cache.index_file.read_bytes()), 5)
        print(f"corpus: {len(files)} files; report holds {len(entry.results)} results; best of 7 / 5")
        print(f"report: JSON + field checks {json_s * 1000:.1f} ms, pickle {pickle_s * 1000:.1f} ms, ratio {json_s / pickle_s:.2f}")
        print(f"index:  marshal + shape checks {index_s * 1000:.1f} ms, bare marshal {bare_s * 1000:.1f} ms, "
              f"ratio {index_s / bare_s:.2f}")


if __name__ == "__main__":
    main()
