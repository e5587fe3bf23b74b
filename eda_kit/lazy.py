"""Names that load their module the first time they are used.

``import eda_kit`` must stay light: a learner who only builds an ``Event`` should not wait for
matplotlib. A package lists its public names and the module each comes from; this module turns
that list into the package's ``__getattr__`` and ``__dir__`` (PEP 562), so::

    from eda_kit import EventBus      # imports eda_kit.pubsub.bus now, and only that

The first lookup stores the value in the package's namespace, so later lookups cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str,
    names: Mapping[str, str],
    namespace: dict[str, Any],
    submodules: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, which exports ``names`` lazily.

    - ``names``: public name -> the module (relative to ``package``) that defines it, e.g.
      ``{"EventBus": "pubsub.bus"}``.
    - ``namespace``: the package's ``globals()``; each name lands there on first use.
    - ``submodules``: modules reachable as attributes (``eda_kit.viz``), imported on first use.
    """
    table = dict(names)
    modules = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in table:
            value = getattr(import_module(f".{table[name]}", package), name)
            namespace[name] = value  # next time, no lookup
            return value
        if name in modules:
            return import_module(f".{name}", package)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *table, *modules})

    return __getattr__, __dir__
