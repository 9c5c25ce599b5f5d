"""
The package's own imports, counted: ``python -m tests.import_graph [ROOT]``.

Prints the import circles, the function-level imports of the package's own
modules, and the imports that run up the layers of the ``layers`` contract in
``setup.cfg`` (import-linter's). ROOT is a checkout (the current directory if
left out), so that two checkouts can be compared with the same layers.
Migrations are left out, as import-linter leaves them out.
"""

import ast
import configparser
import sys
from pathlib import Path

PACKAGE = "django_cron"


def modules(root: Path) -> dict:
    """Return {dotted name: path} for each module of the package."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _targets(node, module: str, is_package: bool, known) -> list:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = module.split(".")
            parts = parts if is_package else parts[:-1]
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        names = [f"{base}.{alias.name}" for alias in node.names]
        names = [name if name in known else base for name in names]
    found = []
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name.split(".")[0] == PACKAGE and name != module:
            found.append(name)
    return found


def imports(root: Path) -> list:
    """Return (importer, imported, line, in a function) for each import of an own module."""
    known = modules(root)
    edges = []
    for module, path in known.items():
        is_package = path.name == "__init__.py"

        def visit(node, in_function, module=module, is_package=is_package):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    # One per imported module and statement, however many names it takes.
                    for target in dict.fromkeys(_targets(child, module, is_package, known)):
                        edges.append((module, target, child.lineno, in_function))
                functions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
                visit(child, in_function or isinstance(child, functions))

        visit(ast.parse(path.read_text()), False)
    return edges


def circles(edges) -> list:
    """Return the strongly connected groups of more than one module (Tarjan's algorithm)."""
    graph = {}
    for source, target, *_ in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for following in graph[node]:
            if following not in index:
                connect(following)
                low[node] = min(low[node], low[following])
            elif following in on_stack:
                low[node] = min(low[node], index[following])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def layers(config: Path) -> list:
    """Return the layers of the ``layers`` contract, top first, each a list of modules."""
    parser = configparser.ConfigParser()
    parser.read(config)
    contract = parser["importlinter:contract:layers"]
    container = contract.get("containers", "").strip()
    found = []
    for line in contract["layers"].split("\n"):
        names = [name.strip() for name in line.replace(":", "|").split("|") if name.strip()]
        if names:
            found.append([f"{container}.{name}" if container else name for name in names])
    return found


def rank(module: str, order: list) -> int | None:
    """Return the layer of ``module`` (0 is the top), or None if no layer holds it."""
    for depth, names in enumerate(order):
        if any(module == name or module.startswith(f"{name}.") for name in names):
            return depth
    return None


def upward(edges, order) -> list:
    """Return the imports from a lower layer to a higher one."""
    found = []
    for source, target, line, in_function in edges:
        low, high = rank(source, order), rank(target, order)
        if low is not None and high is not None and high < low:
            found.append((source, target, line, in_function))
    return found


def main(argv) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(".")
    order = layers(Path(__file__).resolve().parent.parent / "setup.cfg")
    edges = imports(root)
    groups = circles(edges)
    in_functions = [edge for edge in edges if edge[3]]
    up = upward(edges, order)
    print(f"{len(modules(root))} modules, {len(edges)} imports of own modules")
    print(f"circles: {len(groups)}, holding {sum(len(group) for group in groups)} modules")
    for group in groups:
        print("  " + ", ".join(group))
    print(f"function-level imports of own modules: {len(in_functions)}")
    for source, target, line, _ in in_functions:
        print(f"  {source}:{line} -> {target}")
    print(f"imports that run up the layers of setup.cfg: {len(up)}")
    for source, target, line, _ in up:
        print(f"  {source}:{line} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
