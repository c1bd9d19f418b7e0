"""Compile the interpreter's modules for the gateway's processes into one bytecode directory:
`python -m app.bytecode DIR [EXTRA_DIR ...]`, then run them with `PYTHONPYCACHEPREFIX=DIR`.

The project's own packages (and each `EXTRA_DIR`) are compiled as they are. The standard
library and the installed dependencies are compiled as `python -OO` would compile them,
without docstrings and asserts, into the file names a plain interpreter reads: a gateway
worker holds every imported module's docstrings for as long as it runs (SQLAlchemy's alone
are 2.2 MiB), and nothing of the gateway reads a dependency's. Ours stay: an endpoint's
docstring is its OpenAPI description, a model's its schema's. Every module is compiled
without column positions (`-X no_debug_ranges`: another 0.8 MiB a worker): a traceback
still names each file and line, without the `^^^^` under the failing expression.

The production image compiles this way when it is built, and the benchmarks' servers start
from the same kind of directory (`bench.harness.compile_bytecode`). A module whose bytecode
is missing or older than its source is compiled, the others are skipped.
"""

from __future__ import annotations

import importlib.util
import os
import py_compile
import sys
import sysconfig
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

PROJECT_PACKAGES = (
    "core",
    "app",
    "process_apis",
    "system_apis",
    "events",
    "sandboxes",
    "migrations",
)
"""The packages the project's wheel ships (`pyproject.toml`): their docstrings are kept."""
SKIPPED = {
    "test",
    "tests",
    "idlelib",
    "tkinter",
    "turtledemo",
    "lib2to3",
    "ensurepip",
    "site-packages",
}
"""Directories no process of the gateway imports from."""
LEAN, AS_IS = 2, 0  # `py_compile`'s optimization levels: -OO, and none


def project_directories() -> list[Path]:
    """Where the project's packages are, installed (the image) or in the checkout."""
    found = (importlib.util.find_spec(name) for name in PROJECT_PACKAGES)
    return [Path(spec.origin).parent for spec in found if spec is not None and spec.origin]


def sources(prefix: Path, extra: list[Path]) -> list[tuple[str, str, int]]:
    """(source, bytecode path under `prefix`, optimization) of each module to (re)compile."""
    mine = [*project_directories(), *extra]
    paths = sysconfig.get_paths()
    roots = [(Path(paths[key]), LEAN) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    roots += [(root, AS_IS) for root in mine]
    pending = []
    seen: set[Path] = set()
    for root, level in roots:
        for directory, subdirectories, files in os.walk(root):
            here = Path(directory)
            subdirectories[:] = [
                name
                for name in subdirectories
                if name not in SKIPPED and name != "__pycache__" and (here / name) not in mine
            ]
            if level == LEAN and here in mine:
                continue
            for name in files:
                source = here / name
                if not name.endswith(".py") or source in seen:
                    continue
                seen.add(source)
                target = _target(prefix, source)
                if _stale(source, target):
                    pending.append((str(source), target, level))
    return pending


def _target(prefix: Path, source: Path) -> str:
    """The file an interpreter run with `PYTHONPYCACHEPREFIX=prefix` reads for `source`."""
    name = f"{source.stem}.{sys.implementation.cache_tag}.pyc"
    return str(prefix / source.parent.relative_to(source.anchor) / name)


def _stale(source: Path, target: str) -> bool:
    try:
        return os.stat(target).st_mtime < source.stat().st_mtime
    except FileNotFoundError:
        return True


def _compile(job: tuple[str, str, int]) -> None:
    source, target, level = job
    try:
        py_compile.compile(source, cfile=target, optimize=level, doraise=True)
    except (py_compile.PyCompileError, SyntaxError, OSError, ValueError):
        pass  # a few packages ship test data that is not Python; nothing imports it


def compile_into(prefix: Path, extra: list[Path]) -> int:
    """Compile what is missing or stale; the number of modules compiled."""
    pending = sources(prefix, extra)
    with ProcessPoolExecutor() as pool:
        list(pool.map(_compile, pending, chunksize=64))
    return len(pending)


def main(arguments: list[str]) -> None:
    if "no_debug_ranges" not in sys._xoptions:  # the compiler reads it at start-up only
        os.execv(sys.executable, [sys.executable, "-X", "no_debug_ranges", *sys.orig_argv[1:]])
    count = compile_into(Path(arguments[0]).resolve(), [Path(p).resolve() for p in arguments[1:]])
    print(f"{count} modules compiled into {arguments[0]}")  # noqa: T201


if __name__ == "__main__":
    main(sys.argv[1:])
