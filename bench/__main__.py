"""`python -m bench <name> [args...]`: import `bench.<name>` and call its `main(argv)`.

`python -m bench` alone runs every benchmark with its defaults, one after the other.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    if not argv:
        return max(int(importlib.import_module(f"bench.{name}").main([]) or 0) for name in names)
    if argv[0] not in names:
        print(f"usage: python -m bench [{'|'.join(names)}] [args...]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{argv[0]}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
