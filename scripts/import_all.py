"""Import every module of the `daemon` package; exit 1 naming the ones that fail.

CI runs it with the interpreter of an environment that has only what `make run` (or the
wheel alone) installs, so an import of an undeclared package fails there even when the test
extras would have brought it in.  Usage: `ENV/bin/python scripts/import_all.py`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback


def module_names() -> list[str]:
    import daemon

    found = pkgutil.walk_packages(daemon.__path__, prefix="daemon.")
    return ["daemon", *sorted(info.name for info in found)]


def main() -> int:
    failed: list[str] = []
    names = module_names()
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # report every failure, then exit non-zero
            failed.append(name)
            print(f"FAILED {name}\n{traceback.format_exc()}", file=sys.stderr)
    print(f"import_all: {len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
