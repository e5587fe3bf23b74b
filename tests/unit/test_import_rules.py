"""The house rules of eda_kit's layout, checked by reading the source (nothing is imported).

- The core (events, payloads, clock, trace, errors, lazy) imports only the standard library and
  the core: every concept package may build on it, so it builds on none of them.
- Only viz draws and only the exercises check answers: no other module imports them.
- No module imports another module's ``_private`` names: what is shared has a public name.
- A base class never names its subclasses.
- Everything the kit raises on purpose is an ``EdaKitError``: no bare ``raise ValueError(...)``.

Each rule is shown to catch a violation too (the ``*_catches_*`` tests), so a rule that had
quietly stopped looking would fail here.
"""

from __future__ import annotations

import ast
import builtins
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "eda_kit"
CORE = {"events", "payloads", "clock", "trace", "errors", "lazy", "causation"}
# Raising these is part of a Python protocol, not an error the kit chooses.
# (ExceptionGroup carries learners' own errors, several at once: it is not the kit's error.)
PROTOCOL_RAISES = {
    "AttributeError",
    "NotImplementedError",
    "ImportError",
    "StopIteration",
    "ExceptionGroup",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_files() -> list[Path]:
    """Every module of eda_kit except the exercises (learner-facing sample code)."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "exercises" not in p.parts)


def imports_of(path: Path, source: str | None = None) -> list[tuple[str, list[str]]]:
    """(absolute module, names imported from it) for every import in the file."""
    tree = ast.parse(source if source is not None else path.read_text())
    here = module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]  # the package the module is in
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((target, [alias.name for alias in node.names]))
    return found


def core_violations(path: Path, source: str | None = None) -> list[str]:
    problems = []
    for target, _names in imports_of(path, source):
        top = target.split(".")[0]
        if top == "eda_kit":
            if target != "eda_kit" and target.split(".")[1] not in CORE:
                problems.append(f"{module_name(path)} imports {target}")
        elif top not in sys.stdlib_module_names and top != "__future__":
            problems.append(f"{module_name(path)} imports the third-party {target}")
    return problems


def private_import_violations(path: Path, source: str | None = None) -> list[str]:
    problems = []
    for target, names in imports_of(path, source):
        if not target.startswith("eda_kit"):
            continue
        private_modules = [part for part in target.split(".") if part.startswith("_")]
        private_names = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private_modules or private_names:
            problems.append(f"{module_name(path)}: from {target} import {', '.join(names)}")
    return problems


def test_the_core_imports_only_the_standard_library_and_the_core():
    problems = [
        problem
        for path in library_files()
        if path.parent == PACKAGE and path.stem in CORE
        for problem in core_violations(path)
    ]
    assert not problems, "\n".join(problems)


def test_the_core_rule_catches_a_concept_import():
    fake = PACKAGE / "events.py"
    assert core_violations(fake, "from .pubsub import EventBus\nimport networkx\n") == [
        "eda_kit.events imports eda_kit.pubsub",
        "eda_kit.events imports the third-party networkx",
    ]


def test_only_viz_imports_viz_and_nobody_imports_the_exercises():
    problems = []
    for path in library_files():
        name = module_name(path)
        for target, _names in imports_of(path):
            if target.startswith("eda_kit.viz") and not name.startswith("eda_kit.viz"):
                problems.append(f"{name} imports {target}")
            if target.startswith("eda_kit.exercises"):
                problems.append(f"{name} imports {target}")
            if target.split(".")[0] in {"matplotlib", "networkx", "ipywidgets", "IPython"}:
                if not name.startswith("eda_kit.viz"):
                    problems.append(f"{name} imports {target}")
    assert not problems, "\n".join(problems)


def test_no_module_imports_another_modules_private_names():
    problems = [p for path in library_files() for p in private_import_violations(path)]
    assert not problems, "\n".join(problems)


def test_the_private_import_rule_catches_one():
    fake = PACKAGE / "pubsub" / "bus.py"
    assert private_import_violations(fake, "from .delivery import Trouble, _secret\n") == [
        "eda_kit.pubsub.bus: from eda_kit.pubsub.delivery import Trouble, _secret"
    ]
    assert private_import_violations(fake, "from ..viz import _style\n") == [
        "eda_kit.pubsub.bus: from eda_kit.viz import _style"
    ]


def classes_and_bases() -> dict[str, tuple[Path, ast.ClassDef, list[str]]]:
    found = {}
    for path in library_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
                found[node.name] = (path, node, bases)
    return found


def code_names(node: ast.AST) -> set[str]:
    """The identifiers a piece of code uses (docstrings and other strings don't count)."""
    names: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.Attribute):
            names.add(n.attr)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update(alias.asname or alias.name for alias in n.names)
    return names


def test_a_base_class_never_names_its_subclasses():
    classes = classes_and_bases()
    problems = []
    for name, (path, _node, bases) in classes.items():
        for base in bases:
            if base in classes:
                base_path, base_node, _ = classes[base]
                # The base's own code must not know the subclass; nor may its module, when the
                # subclass lives elsewhere (a subclass beside its base may be named by both).
                named = name in code_names(base_node) or (
                    base_path != path and name in code_names(ast.parse(base_path.read_text()))
                )
                if named:
                    problems.append(f"{base} ({module_name(base_path)}) names its subclass {name}")
    assert not problems, "\n".join(problems)


def bare_raises(path: Path, source: str | None = None) -> list[str]:
    """``raise SomeBuiltinError(...)`` in the file, outside the protocol raises."""
    tree = ast.parse(source if source is not None else path.read_text())
    builtin_errors = {
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            if isinstance(func, ast.Name) and func.id in builtin_errors - PROTOCOL_RAISES:
                problems.append(f"{module_name(path)}:{node.lineno} raises {func.id}")
    return problems


def test_the_subclass_rule_catches_a_base_that_imports_its_subclass():
    # The emitter's old layout: EventEmitter's module loaded AsyncEventEmitter lazily.
    source = "def __getattr__(name):\n    from .async_event_emitter import AsyncEventEmitter\n"
    assert "AsyncEventEmitter" in code_names(ast.parse(source))


def test_everything_raised_on_purpose_is_an_eda_kit_error():
    problems = [p for path in library_files() for p in bare_raises(path)]
    assert not problems, "\n".join(problems)


def test_the_raise_rule_catches_a_bare_value_error():
    fake = PACKAGE / "store" / "memory.py"
    source = "def f():\n    raise ValueError('no')\n\ndef g():\n    raise NotImplementedError\n"
    assert bare_raises(fake, source) == ["eda_kit.store.memory:2 raises ValueError"]


def test_every_exception_class_of_the_kit_is_in_the_family():
    import inspect

    import eda_kit.errors as errors
    from eda_kit.saga.faults import SimulatedCrash

    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and value is not SimulatedCrash:
            assert issubclass(value, errors.EdaKitError), name
    assert SimulatedCrash is errors.SimulatedCrash  # saga.faults re-exports the core's
    # The one deliberate exception: a simulated crash must get past `except Exception`.
    assert not issubclass(SimulatedCrash, Exception)
    # Every exception class defined anywhere in the library is one of the family's.
    outside = []
    for path in library_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and path.stem != "errors":
                names = {b.id for b in node.bases if isinstance(b, ast.Name)}
                if names & {"Exception", "ValueError", "TypeError", "LookupError", "RuntimeError"}:
                    if not node.name.startswith("_"):
                        outside.append(f"{module_name(path)}.{node.name}")
    assert not outside, f"exceptions outside eda_kit.errors: {outside}"
    assert inspect.getmodule(errors.WrongExpectedVersion) is errors


@pytest.mark.parametrize(
    ("error", "also"),
    [
        ("InvalidValue", ValueError),
        ("InvalidType", TypeError),
        ("NotJSON", TypeError),
        ("StoreClosed", ValueError),
        ("StoreLocked", TimeoutError),
        ("AggregateNotFound", LookupError),
        ("UnknownCommand", LookupError),
        ("ProjectionStalled", RuntimeError),
        ("StepTimeout", TimeoutError),
        ("IdempotencyKeyInUse", RuntimeError),
        ("IdempotencyKeyMismatch", ValueError),
        ("ReplayedFailure", RuntimeError),
    ],
)
def test_standard_second_bases_keep_old_except_clauses_working(error, also):
    import eda_kit.errors as errors

    cls = getattr(errors, error)
    assert issubclass(cls, errors.EdaKitError) and issubclass(cls, also)
