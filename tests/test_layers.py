"""Imports point one way: a walk over every module's ``import`` statements with ``ast``.

The emulator's layers, bottom up: wire shapes (``protocol``) and signing
(``auth``); scenarios as data; the engine (plan and play); configuration,
the journal and the state; the HTTP layer; running a server; the tools on
top (CLI, pytest plugin, hypothesis strategies). A module may import its own
layer or a lower one, never a higher one, and no module may import itself
back through others. The client never imports the emulator, and the
emulator's server code never imports the client: an encoder and a decoder
written apart are what make the end-to-end tests a cross-check.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Each emulator module's layer, by its dotted name (a package: every module in it).
LAYERS: dict[str, int] = {
    "emulator._version": 0,
    "emulator.outcomes": 0,
    "emulator.clock": 0,
    "emulator.protocol": 0,
    "emulator.auth": 0,
    "emulator.scenario": 1,
    "emulator.engine": 2,
    # Each dialect's folder and what they share: pure parts, above the engine they plan
    # with, below the state and the HTTP layer that serve them.
    "emulator.dialects": 3,
    "emulator.config": 4,
    "emulator.journal": 4,
    "emulator.state": 4,
    "emulator.sessions": 4,
    "emulator.rules": 4,
    "emulator.matching": 4,
    "emulator.records": 4,
    "emulator.ratelimits": 4,
    "emulator.transcript": 4,
    "emulator.metrics": 4,
    "emulator.http": 5,
    "emulator.server": 6,
    "emulator.handle": 6,
    "emulator.remote": 7,
    "emulator.__main__": 7,
    "emulator.cli": 7,
    "emulator.pytest_plugin": 7,
    "emulator.strategies": 7,
    "emulator.conformance": 7,
    "emulator.capture": 7,
    "emulator": 7,  # the package's public surface re-exports from everywhere
}
#: The only emulator modules that may import the client (lazily, for users' tests).
MAY_IMPORT_CLIENT = {"emulator.pytest_plugin", "emulator.conformance.clients"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(name: str, path: Path) -> set[str]:
    """The modules ``name`` imports at run time (type-checking-only imports left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _type_checking(node)
        for child in node.body
        for n in ast.walk(child)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # "from . import endpoints" imports a module, not a name
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def layer(name: str) -> int | None:
    best: tuple[int, int] | None = None
    for prefix, rank in LAYERS.items():
        if name == prefix or name.startswith(prefix + ".") or fnmatch.fnmatchcase(name, prefix):
            if best is None or len(prefix) > best[0]:
                best = (len(prefix), rank)
    return None if best is None else best[1]


def graph(package: str) -> dict[str, set[str]]:
    known = modules(package)
    return {
        name: {target for target in imports(name, path) if target in known and target != name}
        for name, path in known.items()
    }


def test_every_emulator_module_has_a_layer() -> None:
    assert [name for name in modules("emulator") if layer(name) is None] == []


def test_no_emulator_module_imports_a_higher_layer() -> None:
    upward = [
        f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
        for name, targets in graph("emulator").items()
        for target in targets
        if (layer(target) or 0) > (layer(name) or 0)
    ]
    assert upward == []


@pytest.mark.parametrize("package", ["emulator", "client"])
def test_no_import_circles(package: str) -> None:
    edges = graph(package)
    # Package __init__ modules re-export their own submodules: an edge from a
    # submodule to its package's __init__ would be a circle, the other way not.
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str], on_path: set[str], done: set[str]) -> None:
        if node in on_path:
            cycles.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        on_path.add(node)
        for target in sorted(edges.get(node, ())):
            visit(target, [*path, node], on_path, done)
        on_path.discard(node)
        done.add(node)

    done: set[str] = set()
    for start in sorted(edges):
        visit(start, [], set(), done)
    assert cycles == []


def test_the_client_never_imports_the_emulator() -> None:
    found = {
        name: sorted(t for t in imports(name, path) if t.split(".")[0] == "emulator")
        for name, path in modules("client").items()
    }
    assert {name: targets for name, targets in found.items() if targets} == {}


def test_the_emulator_imports_the_client_only_in_the_pytest_plugin() -> None:
    found = {
        name
        for name, path in modules("emulator").items()
        if any(t.split(".")[0] == "client" for t in imports(name, path))
    }
    assert found <= MAY_IMPORT_CLIENT


def test_the_admin_api_never_imports_the_app() -> None:
    assert "emulator.http.app" not in imports(
        "emulator.http.admin", ROOT / "emulator" / "http" / "admin.py"
    )


def test_a_higher_import_is_caught() -> None:
    # The walk itself: an import up a layer in a module is seen as one.
    path = ROOT / "emulator" / "dialects" / "fakegpt" / "wire.py"
    tree_imports = imports("emulator.dialects.fakegpt.wire", path)
    assert all((layer(t) or 0) <= 3 for t in tree_imports if t.startswith("emulator"))
    assert layer("emulator.http.app") == 5 and layer("emulator.scenario.faults") == 1
    assert layer("emulator.dialects.anthropic.wire") == 3
    assert layer("emulator.dialects.registry") == 3


def test_a_dialects_package_files_import_nothing() -> None:
    # Importing a dialect's wire shapes (from a lower layer) runs its packages'
    # __init__ files first: one that imported the dialect's HTTP code would pull
    # the HTTP layer under the protocol.
    inits = sorted((ROOT / "emulator" / "dialects").rglob("__init__.py"))
    assert len(inits) >= 5
    found = {
        module_name(p): sorted(imports(module_name(p), p))
        for p in inits
        if imports(module_name(p), p)
    }
    assert found == {}


@pytest.mark.parametrize("package", ["emulator", "client"])
def test_no_module_is_much_over_400_lines(package: str) -> None:
    long = {
        name: n
        for name, path in modules(package).items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 420
    }
    assert long == {}


def _dialect_folder(name: str) -> str | None:
    """The dialect folder a module is in (``openai_chat``), or None: not in one."""
    parts = name.split(".")
    folder = ROOT / "emulator" / "dialects" / parts[2] if len(parts) > 2 else None
    if parts[:2] != ["emulator", "dialects"] or folder is None or not folder.is_dir():
        return None
    return parts[2]


def test_no_dialect_folder_imports_a_sibling() -> None:
    # What two dialects share lives below both (emulator.dialects.common, .openai, …).
    crossing = sorted(
        f"{name} imports {target}"
        for name, targets in graph("emulator").items()
        for target in targets
        if (own := _dialect_folder(name)) is not None
        and _dialect_folder(target) not in (None, own)
    )
    assert crossing == []


def test_the_http_layer_imports_no_dialects_files() -> None:
    # It serves the registry's dialects through their typed parts, never a folder's files.
    found = sorted(
        f"{name} imports {target}"
        for name, targets in graph("emulator").items()
        if name.startswith("emulator.http")
        for target in targets
        if _dialect_folder(target) is not None
    )
    assert found == []


def test_a_crossing_is_caught() -> None:
    assert _dialect_folder("emulator.dialects.openai_chat.api") == "openai_chat"
    assert _dialect_folder("emulator.dialects.common") is None
    assert _dialect_folder("emulator.dialects.registry") is None
