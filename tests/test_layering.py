"""The core's layering, read from the source: no web imports, no import cycles, runtime packages never
import the offline tools, and each package only the layers below it (lazy imports count)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "ganpaint"
WEB = {"server", "fastapi", "starlette", "uvicorn"}

# what the running app needs, each package with the core packages it may import (lower layers)
RUNTIME = {
    "gan": set(),                        # networks and their files
    "segmenters": {"gan"},               # images → concept labels
    "paint": {"gan", "segmenters"},      # concepts, the edit, the model
    "photo": {"gan", "paint"},           # uploads, encoder, adaptation
    "zoo": {"gan", "paint"},             # which models exist, pulling them
}
# offline tools: they may use the runtime (and dissection the world), never the other way
TOOLS = {
    "world": set(RUNTIME),
    "dissect": set(RUNTIME) | {"world"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module `path` imports, at any depth of the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from . import x` imports module x
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in CORE.rglob("*.py")}
    return {name: {m for m in _imports(p) if m in files and m != name} for name, p in files.items()}


def test_the_core_never_imports_the_web_layer():
    offenders = {
        _module_name(p): sorted(m for m in _imports(p) if m.split(".")[0] in WEB) for p in CORE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def _package(module: str) -> str:
    """The core package a module belongs to: ganpaint.paint.edit → "paint"; the top-level __init__ → "ganpaint"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "ganpaint"


def test_every_core_module_lives_in_a_package_of_the_layering():
    packages = {_package(m) for m in _graph()}
    assert packages == set(RUNTIME) | set(TOOLS) | {"cli", "ganpaint"}
    flat = sorted(p.name for p in CORE.glob("*.py") if p.name != "__init__.py")
    assert flat == []


def _layering_offenders(graph: dict[str, set[str]]) -> list[str]:
    allowed = {**RUNTIME, **TOOLS, "ganpaint": set(RUNTIME)}  # the package's own exports are runtime
    return sorted(
        f"{m} -> {dep}"
        for m, deps in graph.items() if _package(m) != "cli"  # the CLI is a caller of everything
        for dep in deps if _package(dep) != _package(m) and _package(dep) not in allowed[_package(m)]
    )


def test_each_package_imports_only_the_layers_below_it():
    assert _layering_offenders(_graph()) == []


def test_the_layering_check_catches_a_runtime_module_that_imports_a_tool():
    graph = {"ganpaint.paint.model": {"ganpaint.gan.networks", "ganpaint.world.world"},
             "ganpaint.gan.networks": {"ganpaint.paint.edit"}, "ganpaint.dissect.units": {"ganpaint.paint.edit"},
             "ganpaint.cli.analysis": {"ganpaint.dissect.units"}}
    assert _layering_offenders(graph) == ["ganpaint.gan.networks -> ganpaint.paint.edit",
                                          "ganpaint.paint.model -> ganpaint.world.world"]


def test_the_core_has_no_import_cycles():
    graph = _graph()
    # the CLI package's __init__ registers its verb modules, which import `command` back from it: that
    # registration is the one intended back-edge, so the CLI is checked as one node
    graph = {k: {m for m in v if not (k.startswith("ganpaint.cli") and m.startswith("ganpaint.cli"))}
             for k, v in graph.items()}
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_graph_sees_lazy_and_relative_imports():
    g = _graph()
    assert "ganpaint.photo.invert" in g["ganpaint.photo.adapt"]  # module level, relative
    assert "ganpaint.segmenters.segformer" in g["ganpaint.segmenters"]  # inside a function
    assert "ganpaint.world.world" in g["ganpaint.dissect.evaluate"]


def test_serve_is_a_verb_the_web_layer_adds(capsys):
    import pytest

    from ganpaint.cli import COMMANDS, main

    assert "serve" not in COMMANDS  # not the core's own verb …
    with pytest.raises(SystemExit) as e:
        main(["serve", "--help"])  # … yet `ganpaint serve` works
    assert e.value.code == 0 and "--threads" in capsys.readouterr().out
