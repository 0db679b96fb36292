"""The package's shape: imports flow one way (errors/config -> scoring -> data -> decoding -> nn ->
transcribe -> recipe -> cli) and no module imports another that imports it back, even lazily."""

from __future__ import annotations

import ast
from pathlib import Path

ASR = Path(__file__).resolve().parent.parent / "asr"

# Lowest first. A module may import modules of its own rank or lower, never higher.
RANKS = {
    "asr.errors": 0, "asr.fileio": 0, "asr.config": 0, "asr.device": 0,
    "asr.scoring": 1,  # no torch: pure Python and NumPy
    "asr.data": 2, "asr.lm": 2,  # asr.lm: NumPy n-gram LM training, no decoder code
    "asr.decoding": 3,  # decoders know nothing about model classes or model directories
    "asr.nn": 4,
    "asr.transcribe": 5,
    "asr.recipe": 6,
    "asr.cli": 7, "asr": 7,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ASR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def rank_of(module: str) -> int:
    while module not in RANKS:
        module = module.rpartition(".")[0]
    return RANKS[module]


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every asr module `path` imports, at the top, in functions or under TYPE_CHECKING."""
    me = module_name(path)
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != me:
                out.add(name)
    return out


def import_graph() -> dict[str, set[str]]:
    paths = sorted(ASR.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def test_imports_only_flow_down():
    graph = import_graph()
    assert len(graph) > 40 and all(m.startswith("asr") for m in graph)
    upward = [f"{m} (rank {rank_of(m)}) imports {d} (rank {rank_of(d)})"
              for m, deps in sorted(graph.items()) for d in sorted(deps) if rank_of(d) > rank_of(m)]
    assert not upward, "\n".join(upward)


def find_circles(graph: dict[str, set[str]]) -> list[str]:
    """Each import circle found by a depth-first walk, as 'a -> b -> a'."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                circles.append(" -> ".join(path[path.index(d):] + [d]))
            elif d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return circles


def test_no_import_circle():
    circles = find_circles(import_graph())
    assert not circles, "\n".join(circles)


def test_the_library_imports_no_recipe_or_corpus_code():
    for path in ASR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in ("data_prep", "recipes", "tests") for n in names), path


def test_the_checker_sees_an_upward_import_and_a_circle(tmp_path, monkeypatch):
    """The two rules above would catch a violation (a test that cannot fail is no test)."""
    fake = tmp_path / "asr"
    (fake / "data").mkdir(parents=True)
    (fake / "nn").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "data" / "__init__.py").write_text("")
    (fake / "nn" / "__init__.py").write_text("")
    (fake / "data" / "a.py").write_text("from asr.nn.b import x\n")
    (fake / "nn" / "b.py").write_text("def f():\n    from asr.data import a\n")
    monkeypatch.setattr(__import__(__name__), "ASR", fake)
    graph = import_graph()
    assert graph["asr.data.a"] == {"asr.nn.b"} and graph["asr.nn.b"] == {"asr.data.a", "asr.data"}
    assert rank_of("asr.nn.b") > rank_of("asr.data.a")  # the upward import test_imports_only_flow_down reports
    assert "asr.data.a -> asr.nn.b -> asr.data.a" in find_circles(graph)  # the lazy import closes a circle
