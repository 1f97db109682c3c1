"""Code fingerprints computed from imports: a job reruns when any package code it can reach changes.

Snakemake tracks a rule's script file but not what the script imports. Each rule therefore passes
``script_fingerprint(<its script>)`` as a param; the fingerprint hashes the script and every module of
the ``fmagenre`` package that it imports, transitively (found statically with :mod:`ast`, imports inside
functions included), so a hand-kept module list can never drift from the code.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

from fmagenre.io import PACKAGE_ROOT

PACKAGE = "fmagenre"
SCRIPTS_DIR = PACKAGE_ROOT.parent


def module_file(module: str) -> Path | None:
    """Source file of package module ``fmagenre.a.b`` (a module or a package's ``__init__``), or None."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_ROOT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(file: Path) -> str:
    relative = file.relative_to(PACKAGE_ROOT).with_suffix("")
    parts = [part for part in relative.parts if part != "__init__"]
    return ".".join([PACKAGE, *parts])


def _with_parents(module: str) -> list[str]:
    """``fmagenre.a.b`` -> [fmagenre, fmagenre.a, fmagenre.a.b]: importing a module runs its parents."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _imported_modules(file: Path) -> frozenset[str]:
    """Package modules that ``file`` imports anywhere in its body (absolute and relative imports)."""
    stat = file.stat()
    return _imported_modules_cached(file, stat.st_mtime_ns, stat.st_size)


@cache
def _imported_modules_cached(file: Path, mtime_ns: int, size: int) -> frozenset[str]:
    """One parse per file version and process: a rule file fingerprints ~40 scripts that share
    most of the package (parsing each module once per script cost ~3 s of every Snakefile parse)."""
    tree = ast.parse(file.read_text(), filename=str(file))
    is_package_module = file.is_relative_to(PACKAGE_ROOT)
    own = _module_name(file) if is_package_module else ""
    package = own if file.name == "__init__.py" else own.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            # ``from fmagenre.x import y`` imports submodule y when there is one
            found.update(f"{base}.{alias.name}" for alias in node.names)
    modules = set()
    for name in found:
        for module in _with_parents(name):
            if module_file(module) is not None:
                modules.add(module)
    return frozenset(modules)


@cache
def _closure_cached(roots: tuple[str, ...], stamp: tuple) -> frozenset[Path]:
    seen: set[Path] = set()
    todo = [Path(root) for root in roots]
    while todo:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        todo.extend(module_file(module) for module in _imported_modules(file))
    return frozenset(seen)


def _source_stamp() -> tuple:
    """Sizes and mtimes of the package's files: a cached closure is reused only while they hold."""
    return tuple(
        (str(path), path.stat().st_mtime_ns, path.stat().st_size)
        for path in sorted(PACKAGE_ROOT.rglob("*.py"))
    )


def import_closure(*roots: str | Path) -> set[Path]:
    """The files ``roots`` (script paths or ``fmagenre.*`` module names) reach through imports."""
    files = []
    for root in roots:
        path = (
            module_file(root) if isinstance(root, str) and root.startswith(PACKAGE) else Path(root)
        )
        if path is None or not path.is_file():
            raise FileNotFoundError(f"fingerprint: no script or package module {root!r}")
        files.append(str(path.resolve()))
    return set(_closure_cached(tuple(sorted(files)), _source_stamp()))


def _digest(files: set[Path]) -> str:
    digest = hashlib.sha256()
    for file in sorted(files):
        name = file.relative_to(SCRIPTS_DIR) if file.is_relative_to(SCRIPTS_DIR) else file.name
        digest.update(Path(name).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def script_fingerprint(script: str | Path) -> str:
    """Fingerprint of a rule's script and every package module it reaches (the rule's ``code`` param)."""
    return _digest(import_closure(script))


def code_fingerprint(*modules: str, exclude: tuple[str, ...] = ()) -> str:
    """Fingerprint of package modules (``"fmagenre.features.extract"``) and what they import.

    ``exclude`` drops modules from the hash (not from the traversal): the per-track feature cache
    excludes ``fmagenre.io`` so that an edit of the I/O helpers does not recompute every feature.
    """
    dropped = {module_file(module) for module in exclude}
    return _digest(import_closure(*modules) - dropped)
