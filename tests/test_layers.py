"""Imports point one way: a walk over every module's ``import`` statements with ``ast``.

The emulator's rooms, bottom up: ``core`` (the clock, endings, signing);
``protocol`` (pure wire pieces); ``scenario`` (scenarios as data); ``engine``
(plan and play); ``dialects`` (each API's pure parts); ``state`` (the
configuration, the journal, sessions, rules); ``http`` (the lifecycle); then
running a server and the tools on top (CLI, pytest plugin, strategies). A module may import its own
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
    # Rooms, bottom up, as docs/ARCHITECTURE's map draws them.
    "emulator.core": 0,
    "emulator.protocol": 1,
    "emulator.scenario": 2,
    "emulator.engine": 3,
    # Each dialect's folder and what they share: pure parts, above the engine they plan
    # with, below the state and the HTTP layer that serve them.
    "emulator.dialects": 4,
    "emulator.state": 5,
    "emulator.http": 6,
    # The root's modules are the public top: running a server, and the tools on it.
    "emulator.server": 7,
    "emulator.handle": 7,
    "emulator.remote": 8,
    "emulator.__main__": 8,
    "emulator.cli": 8,
    "emulator.pytest_plugin": 8,
    "emulator.strategies": 8,
    "emulator.conformance": 8,
    "emulator.capture": 8,
    "emulator": 8,  # the package's public surface re-exports from everywhere
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


def imports(name: str, path: Path, typed: bool = False) -> set[str]:
    """The modules ``name`` imports at run time (with ``typed``, its type-checking-only
    imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip = {
        id(n)
        for node in ast.walk(tree)
        if not typed and isinstance(node, ast.If) and _type_checking(node)
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


def graph(package: str, typed: bool = False) -> dict[str, set[str]]:
    known = modules(package)
    return {
        name: {t for t in imports(name, path, typed) if t in known and t != name}
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
    # Type-checking-only imports count: a circle that only the type checker walks is
    # still one a reader has to walk.
    edges = graph(package, typed=True)
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
    assert all((layer(t) or 0) <= 4 for t in tree_imports if t.startswith("emulator"))
    assert layer("emulator.http.app") == 6 and layer("emulator.scenario.faults") == 2
    assert layer("emulator.dialects.anthropic.wire") == 4
    assert layer("emulator.dialects.registry") == 4
    assert layer("emulator.state.journal") == 5 and layer("emulator.core.clock") == 0


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


def test_the_root_holds_only_the_public_top() -> None:
    # Everything below a server lives in a named room (core, state, …), not at the root.
    root = {p.stem for p in (ROOT / "emulator").glob("*.py")}
    assert root == {"__init__", "__main__", "_version", "handle", "pytest_plugin", "remote",
                    "server", "strategies"}  # fmt: skip


def test_no_two_modules_share_a_name_outside_the_dialect_folders() -> None:
    # Two "outcomes.py" or two "errors.py" meaning different things is a trap for a reader;
    # each dialect folder has its own wire/read/plan/shapes/capture/api by design, and each
    # tool its own cli.
    names: dict[str, list[str]] = {}
    for name in modules("emulator"):
        if _dialect_folder(name) is None and not name.endswith((".cli", "__main__")):
            names.setdefault(name.rpartition(".")[2], []).append(name)
    assert {n: found for n, found in names.items() if len(found) > 1} == {}
