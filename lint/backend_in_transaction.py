"""No backend call is awaited while a database transaction is open.

A workflow persists its step, commits, calls the backend, then persists the outcome:
a transaction held across a backend call keeps row locks (and a pooled connection)
for as long as the backend takes, and a crash in between loses the record of the call.

The check reads the source (no import): inside every `async with` that opens a session
or a transaction (`...sessionmaker()`, `....begin()`, `...transaction(...)`), it reports
each awaited call that reaches a backend:

- directly: a method of a port (`context.erp.…`, `erp.…`, `billing.…`, `crm.…`,
  `support.…`), a workflow step (`handle.step(…)`, `step(…)`), or an httpx request;
- or through functions of the checked tree that do (found to a fixed point by name:
  `self.post(…)` for a method of the same class, `name(…)` for a function, `x.name(…)`
  for a method of any class, except names a SQLAlchemy session also has).

Usage: `python -m lint.backend_in_transaction DIR_OR_FILE...`; exits 1 on a finding.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BACKENDS = frozenset({"erp", "billing", "crm", "support"})
STEPS = frozenset({"step"})
HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "request", "send", "stream"})
OPENERS = frozenset({"sessionmaker", "begin", "transaction", "begin_nested"})
# Names a SQLAlchemy session (or connection) also has: `session.execute(…)` is no backend.
SESSION_NAMES = frozenset(
    {
        "execute",
        "scalar",
        "scalars",
        "get",
        "get_one",
        "add",
        "add_all",
        "flush",
        "commit",
        "rollback",
        "refresh",
        "delete",
        "merge",
        "close",
        "begin",
        "stream",
    }
)

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class Function:
    node: FunctionNode
    path: Path
    cls: str | None
    calls_backend: bool = False


@dataclass
class Tree:
    functions: list[Function] = field(default_factory=list)
    # What calls a backend, by name: module functions, methods by (class, name), any method.
    free: set[str] = field(default_factory=set)
    methods: set[tuple[str, str]] = field(default_factory=set)
    method_names: set[str] = field(default_factory=set)


def _chain(node: ast.expr) -> list[str]:
    """`self.context.erp.post` → ['self', 'context', 'erp', 'post']."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts[::-1]


def _direct(call: ast.Call) -> bool:
    chain = _chain(call.func)
    if not chain:
        return False
    *owner, name = chain
    if name in STEPS:
        return True
    if owner and owner[-1] in BACKENDS:
        return True
    return bool(owner) and "httpx" in owner[0] and name in HTTP_METHODS


def _reaches_backend(call: ast.Call, cls: str | None, tree: Tree) -> bool:
    if _direct(call):
        return True
    chain = _chain(call.func)
    if len(chain) == 1:
        return chain[0] in tree.free
    if len(chain) == 2 and chain[0] == "self" and cls is not None:
        return (cls, chain[1]) in tree.methods
    return chain[-1] in tree.method_names and chain[-1] not in SESSION_NAMES


def _awaited_calls(nodes: list[ast.stmt]) -> Iterator[ast.Call]:
    """Calls awaited in `nodes`, not counting nested functions and lambdas."""
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
            yield node.value
        stack.extend(ast.iter_child_nodes(node))


def _opens_transaction(item: ast.withitem) -> bool:
    expr = item.context_expr
    if not isinstance(expr, ast.Call):
        return False
    chain = _chain(expr.func)
    return bool(chain) and chain[-1] in OPENERS


def _transaction_blocks(function: FunctionNode) -> Iterator[ast.AsyncWith]:
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.AsyncWith) and any(_opens_transaction(i) for i in node.items):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _collect(path: Path, tree: Tree) -> None:
    module = ast.parse(path.read_text(), filename=str(path))

    def visit(body: list[ast.stmt], cls: str | None) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, node.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                tree.functions.append(Function(node, path, cls))

    visit(module.body, None)


def _resolve(tree: Tree) -> None:
    """Mark every function that awaits a backend call, directly or through others."""
    changed = True
    while changed:
        changed = False
        for function in tree.functions:
            if function.calls_backend:
                continue
            calls = _awaited_calls(function.node.body)
            if any(_reaches_backend(call, function.cls, tree) for call in calls):
                function.calls_backend = changed = True
                name = function.node.name
                if function.cls is None:
                    tree.free.add(name)
                else:
                    tree.methods.add((function.cls, name))
                    tree.method_names.add(name)


def findings(paths: list[Path]) -> list[str]:
    """`file:line: …` for each backend call awaited inside an open transaction."""
    tree = Tree()
    for path in paths:
        _collect(path, tree)
    _resolve(tree)
    found = []
    for function in tree.functions:
        for block in _transaction_blocks(function.node):
            for call in _awaited_calls(block.body):
                if _reaches_backend(call, function.cls, tree):
                    found.append(
                        f"{function.path}:{call.lineno}: `{ast.unparse(call.func)}` reaches a "
                        f"backend inside the transaction opened on line {block.lineno}"
                    )
    return sorted(found)


def python_files(roots: list[str]) -> list[Path]:
    files: list[Path] = []
    for root in map(Path, roots):
        files.extend(sorted(root.rglob("*.py")) if root.is_dir() else [root])
    return files


def main(argv: list[str]) -> int:
    found = findings(python_files(argv))
    sys.stdout.writelines(f"{line}\n" for line in found)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
