"""Mutants of a reference answer: how the test suite proves a checker can't be fooled.

A *mutant* is the reference with exactly one small change, made mechanically from its syntax
tree: an operator swapped (``+`` for ``-``), a comparison loosened (``<`` for ``<=``), a
constant moved by one, a call dropped or its arguments swapped, a keyword argument removed (the
``expected_version=NO_STREAM`` that makes an append safe), a constant swapped for a sibling
(``NO_STREAM`` for ``ANY``), one attribute read for another (``e.position`` for ``e.type``),
one local variable read for another (``position`` for ``version``),
a statement deleted, a condition negated. Each is the kind of slip a learner makes.

``tests/unit/test_exercise_mutants.py`` hands every mutant to its exercise's checker:

- the checker says "Not yet": the mutant is **killed**;
- the checker says "Correct", but the mutant behaves differently from the reference somewhere
  on a larger corpus (the probes plus many more generated inputs, other seeds): a
  **survivor**, and the test fails, naming it;
- it says "Correct" and nothing tells the two apart on that corpus: **equivalent** (``x < 1``
  and ``x <= 0`` on integers), counted but not held against the checker.

``python -m eda_kit.exercises.mutation`` prints the kill rate per exercise.

Answers that are values (a predicted list, a routing table) get value mutants instead: an entry
dropped, two swapped, a name added or replaced.

And for every constraint the task states ("using only on and off"), the **constraint dropped**
mutant: the constraint's ``breaker``, an answer that behaves like the reference and breaks only
that rule. Nothing but the constraint can kill it, so it proves the constraint is checked.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import inspect
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Mutant", "exercise_mutants", "mutants"]


@dataclass(frozen=True)
class Mutant:
    """One small change to a reference: what changed, and the changed answer."""

    change: str
    value: Any

    def __repr__(self) -> str:
        return f"<Mutant {self.change}>"


# --- mutants of code --------------------------------------------------------------------------

_BINARY: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub, ast.Mult),
    ast.Sub: (ast.Add,),
    ast.Mult: (ast.Div, ast.Add),
    ast.Div: (ast.Mult, ast.FloorDiv),
    ast.FloorDiv: (ast.Div, ast.Mult),
    ast.Mod: (ast.FloorDiv,),
}
_COMPARE: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.Gt),
    ast.LtE: (ast.Lt, ast.GtE),
    ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.LtE),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
}
_SYMBOL = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
    ast.And: "and", ast.Or: "or",
}  # fmt: skip

# A site: (index of the node in ast.walk order, what changes, how to change that node in a copy
# of the tree; the second argument maps id(node) -> parent in that copy).
Site = tuple[int, str, Callable[[ast.AST, dict[int, ast.AST]], None]]


def _show(node: ast.AST, limit: int = 50) -> str:
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _messages(tree: ast.AST) -> set[int]:
    """ids of the nodes that only make messages: docstrings, f-strings, and everything inside a
    ``raise`` (changing them changes no behaviour a checker could see; the ``raise`` itself
    can still be deleted)."""
    quiet: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr | ast.Raise):
            quiet.update(id(inner) for inner in ast.walk(node))
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            quiet.add(id(body[0].value))
    return quiet


def _replace_in_parent(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for field, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
            return
        if isinstance(value, list):
            for index, item in enumerate(value):
                if item is old:
                    value[index] = new
                    return


def _visible_locals(tree: ast.AST) -> dict[int, list[str]]:
    """id(Name node) -> the local variables it could have read instead: the parameters and
    assigned names of its function and of the functions around it (``self`` excepted)."""
    visible: dict[int, list[str]] = {}

    def visit(function: ast.AST, outer: list[str]) -> None:
        arguments = getattr(function, "args", None)
        own = [a.arg for a in arguments.args + arguments.kwonlyargs] if arguments else []
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.append(node.id)
        names = [n for n in dict.fromkeys([*own, *outer]) if n != "self"]
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                visible[id(node)] = names  # an inner function's visit overwrites this
        for node in ast.walk(function):
            if node is not function and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(node, names)

    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            visit(node, [])
            break  # the outermost function (or the class's first method: see below)
    if isinstance(tree, ast.Module) and tree.body and isinstance(tree.body[0], ast.ClassDef):
        for method in tree.body[0].body:
            if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(method, [])
    return visible


def _sites(tree: ast.AST, names_of_kind: dict[str, list[str]]) -> list[Site]:
    nodes = list(ast.walk(tree))
    parents = {id(child): parent for parent in nodes for child in ast.iter_child_nodes(parent)}
    quiet = _messages(tree)
    locals_near = _visible_locals(tree)
    found: list[Site] = []
    attributes_of: dict[str, list[str]] = {}  # name -> the attributes read from it (data, type)
    for node in nodes:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if isinstance(node.ctx, ast.Load) and not node.attr.startswith("_"):
                names = attributes_of.setdefault(node.value.id, [])
                if node.attr not in names:
                    names.append(node.attr)

    def at(node: ast.AST) -> str:
        return f"line {getattr(node, 'lineno', '?')}"

    def replace_with(make: Callable[[ast.AST], ast.AST]) -> Callable[..., None]:
        def change(node: ast.AST, parent_of: dict[int, ast.AST]) -> None:
            _replace_in_parent(parent_of[id(node)], node, make(node))

        return change

    def edit(change: Callable[[ast.AST], Any]) -> Callable[..., None]:
        return lambda node, parent_of: change(node)

    for index, node in enumerate(nodes):
        if id(node) in quiet and not isinstance(node, ast.Raise):
            continue  # an error message or a docstring: changing it changes no behaviour
        where = at(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            for new_op in _BINARY[type(node.op)]:
                found.append(
                    (
                        index,
                        f"{where}: `{_show(node)}`: {_SYMBOL[type(node.op)]} -> {_SYMBOL[new_op]}",
                        edit(lambda n, op=new_op: setattr(n, "op", op())),
                    )
                )
            for side in ("left", "right"):
                found.append(
                    (
                        index,
                        f"{where}: `{_show(node)}` -> `{_show(getattr(node, side))}`",
                        replace_with(lambda n, s=side: getattr(n, s)),
                    )
                )
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BINARY:
            for new_op in _BINARY[type(node.op)]:
                found.append(
                    (
                        index,
                        f"{where}: `{_show(node)}`: {_SYMBOL[type(node.op)]}= -> "
                        f"{_SYMBOL[new_op]}=",
                        edit(lambda n, op=new_op: setattr(n, "op", op())),
                    )
                )
        elif isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                for new_op in _COMPARE.get(type(op), ()):
                    found.append(
                        (
                            index,
                            f"{where}: `{_show(node)}`: {_SYMBOL[type(op)]} -> {_SYMBOL[new_op]}",
                            edit(lambda n, p=position, o=new_op: n.ops.__setitem__(p, o())),
                        )
                    )
        elif isinstance(node, ast.BoolOp):
            other = ast.Or if isinstance(node.op, ast.And) else ast.And
            found.append(
                (
                    index,
                    f"{where}: `{_show(node)}`: {_SYMBOL[type(node.op)]} -> {_SYMBOL[other]}",
                    edit(lambda n, o=other: setattr(n, "op", o())),
                )
            )
            for position, value in enumerate(node.values):
                found.append(
                    (
                        index,
                        f"{where}: `{_show(node)}`: drop `{_show(value, 30)}`",
                        lambda n, parent_of, p=position: (
                            n.values.pop(p)
                            if len(n.values) > 2
                            else _replace_in_parent(parent_of[id(n)], n, n.values[1 - p])
                        ),
                    )
                )
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
            found.append(
                (
                    index,
                    f"{where}: `{_show(node)}` -> `{_show(node.operand)}`",
                    replace_with(lambda n: n.operand),
                )
            )
        elif isinstance(node, ast.Constant) and id(node) not in quiet:
            value = node.value
            if isinstance(value, bool):
                candidates: list[Any] = [not value]
            elif isinstance(value, int):
                candidates = [value + 1, value - 1] + ([0] if value not in (1, -1, 0) else [])
            elif isinstance(value, str):
                candidates = [value + "X"] if value else ["X"]
            else:
                candidates = []
            for new in candidates:
                found.append(
                    (
                        index,
                        f"{where}: {value!r} -> {new!r}",
                        edit(lambda n, v=new: setattr(n, "value", v)),
                    )
                )
        elif isinstance(node, ast.Call):
            parent = parents.get(id(node))
            used = not isinstance(parent, ast.Expr)
            if used and node.args and not isinstance(node.args[0], ast.Starred):
                found.append(
                    (
                        index,
                        f"{where}: `{_show(node)}` -> `{_show(node.args[0])}`",
                        replace_with(lambda n: n.args[0]),
                    )
                )
            if len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
                found.append(
                    (
                        index,
                        f"{where}: `{_show(node)}`: first two arguments swapped",
                        edit(lambda n: n.args.__setitem__(slice(0, 2), [n.args[1], n.args[0]])),
                    )
                )
            for position, keyword in enumerate(node.keywords):
                if keyword.arg is None:
                    continue
                found.append(
                    (
                        index,
                        f"{where}: `{_show(node)}`: without {keyword.arg}=",
                        edit(lambda n, p=position: n.keywords.pop(p)),
                    )
                )
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Name)
        ):
            # e.position -> e.version: another attribute the code reads from the same name
            for other in attributes_of.get(node.value.id, ()):
                if other != node.attr:
                    found.append(
                        (
                            index,
                            f"{where}: {node.value.id}.{node.attr} -> {node.value.id}.{other}",
                            edit(lambda n, o=other: setattr(n, "attr", o)),
                        )
                    )
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            # a sibling constant (NO_STREAM for ANY), or another local variable read by mistake
            others = [*names_of_kind.get(node.id, ())]
            if node.id in locals_near.get(id(node), ()):
                others += [name for name in locals_near[id(node)] if name != node.id]
            for other in others:
                found.append(
                    (
                        index,
                        f"{where}: {node.id} -> {other}",
                        edit(lambda n, o=other: setattr(n, "id", o)),
                    )
                )
        elif isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                found.append(
                    (
                        index,
                        f"{where}: `{_show(node)}` -> `return None`",
                        edit(lambda n: setattr(n, "value", None)),
                    )
                )
        elif isinstance(node, ast.Break | ast.Continue):
            other_kind = ast.Continue if isinstance(node, ast.Break) else ast.Break
            found.append(
                (
                    index,
                    f"{where}: {type(node).__name__.lower()} -> {other_kind.__name__.lower()}",
                    replace_with(lambda n, k=other_kind: k()),
                )
            )
        if isinstance(node, ast.If | ast.While | ast.IfExp):
            found.append(
                (
                    index,
                    f"{where}: `{_show(node.test)}` negated",
                    edit(lambda n: setattr(n, "test", ast.UnaryOp(op=ast.Not(), operand=n.test))),
                )
            )
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if not isinstance(body, list) or isinstance(node, ast.Module):
                continue
            for position, statement in enumerate(body):
                if (
                    not isinstance(statement, ast.stmt)
                    or id(getattr(statement, "value", None)) in quiet
                ):
                    continue
                if isinstance(statement, ast.FunctionDef | ast.ClassDef | ast.Pass):
                    continue
                found.append(
                    (
                        index,
                        f"line {statement.lineno}: `{_show(statement)}` deleted",
                        edit(lambda n, f=field, p=position: _delete_statement(n, f, p)),
                    )
                )

    return found


def _delete_statement(node: ast.AST, field: str, position: int) -> None:
    body = getattr(node, field)
    del body[position]
    if not body and field == "body":
        body.append(ast.Pass())


def _sibling_names(namespace: dict[str, Any]) -> dict[str, list[str]]:
    """Module-level constants of the same kind can stand in for each other (``NO_STREAM`` for
    ``ANY`` or ``STREAM_EXISTS``): names of values that are not functions, classes or modules,
    grouped by type, for types shared by two to five names."""
    by_type: dict[type, list[str]] = {}
    for name, value in namespace.items():
        if name.startswith("__") or callable(value) or inspect.ismodule(value):
            continue
        if isinstance(value, str | int | float | bool | list | dict | tuple | set | type(None)):
            continue
        by_type.setdefault(type(value), []).append(name)
    siblings: dict[str, list[str]] = {}
    for names in by_type.values():
        if 2 <= len(names) <= 5:
            for name in names:
                siblings[name] = [other for other in names if other != name]
    return siblings


def code_mutants(reference: Any) -> Iterator[Mutant]:
    """Every one-change mutant of a function or class, compiled in its own module's globals."""
    source = textwrap.dedent(inspect.getsource(reference))
    tree = ast.parse(source)
    module = inspect.getmodule(reference)
    namespace = dict(vars(module)) if module else {}
    name = reference.__name__
    sites = _sites(tree, _sibling_names(namespace))
    for index, change, apply in sites:
        mutated = copy.deepcopy(tree)
        nodes = list(ast.walk(mutated))
        parent_of = {
            id(child): parent for parent in nodes for child in ast.iter_child_nodes(parent)
        }
        try:
            apply(nodes[index], parent_of)
            ast.fix_missing_locations(mutated)
            code = compile(mutated, f"<mutant of {name}>", "exec")
            scope = dict(namespace)
            exec(code, scope)  # our own reference's code, one node changed: never learner input
        except Exception:  # a change that does not compile is not a mutant
            continue
        yield Mutant(change, scope[name])


# --- mutants of values ------------------------------------------------------------------------


def _strings_in(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            found += _strings_in(key) + _strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found += _strings_in(item)
    return list(dict.fromkeys(found))


def value_mutants(value: Any, words: list[str] | None = None, where: str = "") -> Iterator[Mutant]:
    """One-change mutants of a value: an entry dropped, two neighbours swapped, an entry
    duplicated, a string replaced by another string of the answer, a name added to a list."""
    words = _strings_in(value) if words is None else words
    if isinstance(value, list | tuple):
        kind = type(value)
        for i, item in enumerate(value):
            yield Mutant(f"{where}[{i}] dropped", kind([*value[:i], *value[i + 1 :]]))
            yield Mutant(f"{where}[{i}] duplicated", kind([*value[: i + 1], item, *value[i + 1 :]]))
            if i + 1 < len(value):
                swapped = [*value]
                swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
                yield Mutant(f"{where}[{i}] and [{i + 1}] swapped", kind(swapped))
            for inner in value_mutants(item, words, f"{where}[{i}]"):
                yield Mutant(inner.change, kind([*value[:i], inner.value, *value[i + 1 :]]))
        if all(isinstance(item, str) for item in value):
            for word in words:
                if word not in value:
                    yield Mutant(f"{where} + {word!r}", kind([*value, word]))
    elif isinstance(value, dict):
        for key, item in value.items():
            rest = {k: v for k, v in value.items() if k != key}
            yield Mutant(f"{where}[{key!r}] dropped", rest)
            for inner in value_mutants(item, words, f"{where}[{key!r}]"):
                yield Mutant(inner.change, {**value, key: inner.value})
    elif isinstance(value, str):
        for word in words:
            if word != value:
                yield Mutant(f"{where}: {value!r} -> {word!r}", word)


def mutants(reference: Any) -> list[Mutant]:
    """The mutants of a reference answer: code mutants for functions and classes, value
    mutants for anything else."""
    if inspect.isfunction(reference) or inspect.isclass(reference):
        return list(code_mutants(reference))
    return list(value_mutants(reference))


def exercise_mutants(exercise: Any) -> list[Mutant]:
    """The mutants of an exercise: those of its reference, then one "constraint dropped"
    mutant for each constraint that names its ``breaker``."""
    found = mutants(exercise.reference)
    for constraint in exercise.constraints:
        if constraint.breaker is not None:
            found.append(Mutant(f"constraint dropped: {constraint.rule}", constraint.breaker))
    return found


# --- assessing a checker ----------------------------------------------------------------------


@dataclass
class Assessment:
    """What an exercise's checker did with its reference's mutants."""

    name: str
    killed: list[Mutant]
    equivalent: list[Mutant]
    survivors: list[tuple[Mutant, str]]  # (mutant, where it behaves differently)
    verdicts: dict[str, str] = dataclasses.field(
        default_factory=dict
    )  # killed mutant's change -> verdict

    @property
    def different(self) -> int:
        """Mutants that behave differently from the reference (killed or surviving)."""
        return len(self.killed) + len(self.survivors)

    @property
    def kill_rate(self) -> float:
        return len(self.killed) / self.different if self.different else 1.0

    def row(self) -> str:
        total = len(self.killed) + len(self.equivalent) + len(self.survivors)
        return (
            f"{self.name:<36} {total:>7} {len(self.equivalent):>10} {self.different:>9} "
            f"{len(self.killed):>6} {len(self.survivors):>9} {self.kill_rate:>9.0%}"
        )


HEADER = (
    f"{'exercise':<36} {'mutants':>7} {'equivalent':>10} {'different':>9} "
    f"{'killed':>6} {'survivors':>9} {'kill rate':>9}"
)


def assess(name: str, exercise: Any, corpus_factor: int = 4) -> Assessment:
    """Run the exercise's checker on every mutant of its reference and sort them.

    A mutant the checker accepts is compared with the reference on a corpus larger than the
    checker's own: the probes plus ``corpus_factor`` times as many generated inputs, drawn
    with two other seeds. Only a mutant that agrees with the reference everywhere on it is
    called equivalent.
    """
    killed: list[Mutant] = []
    equivalent: list[Mutant] = []
    survivors: list[tuple[Mutant, str]] = []
    examples = max(exercise.examples, 1) * corpus_factor // 2
    verdicts: dict[str, str] = {}
    for mutant in exercise_mutants(exercise):
        verdict = exercise.verdict(mutant.value)
        if not verdict.passed:
            killed.append(mutant)
            verdicts[mutant.change] = verdict.message  # what a learner who wrote it would read
            continue
        where = None
        for seed in (exercise.seed + 1, exercise.seed + 2):
            where = exercise.differs_on_corpus(mutant.value, examples, seed)
            if where:
                break
        if where:
            survivors.append((mutant, where))
        else:
            equivalent.append(mutant)
    return Assessment(name, killed, equivalent, survivors, verdicts)


def all_exercises() -> list[tuple[str, Any]]:
    """Every ``Exercise`` in every module of ``eda_kit.exercises``, as (module.name, exercise)."""
    import importlib
    import pkgutil

    from . import __path__ as package_path
    from .framework import Exercise

    found = []
    for info in pkgutil.iter_modules(package_path):
        if info.name in ("framework", "mutation"):
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        for attribute, value in vars(module).items():
            if isinstance(value, Exercise):
                found.append((f"{info.name}.{attribute}", value))
    return found


def main(argv: list[str]) -> int:
    """Print the kill rate of every exercise's checker (``-v``: list the equivalent mutants)."""
    verbose = "-v" in argv
    wanted = [arg for arg in argv if not arg.startswith("-")]
    print(HEADER)
    failed = False
    for name, exercise in all_exercises():
        if wanted and not any(name.startswith(w) for w in wanted):
            continue
        if exercise.run is None:
            print(f"{name:<36} not assessed: it has no run= to compare with the reference")
            continue
        assessment = assess(name, exercise)
        print(assessment.row())
        for mutant, where in assessment.survivors:
            failed = True
            print(f"    SURVIVOR {mutant.change}\n        differs on {where}")
        if verbose:
            for mutant in assessment.equivalent:
                print(f"    equivalent: {mutant.change}")
    return 1 if failed else 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
