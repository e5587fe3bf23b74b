"""The package as a whole: light imports, public names, reproducible mode's edges."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

import pytest

import eda_kit

HEAVY = ("matplotlib", "networkx", "ipywidgets", "IPython")


def heavy_modules_loaded_by(statement: str) -> str:
    """Run ``statement`` in a fresh interpreter; name the heavy modules it left loaded."""
    code = f"import sys\n{statement}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_import_eda_kit_loads_no_heavy_module():
    assert heavy_modules_loaded_by("import eda_kit") == ""
    assert heavy_modules_loaded_by("from eda_kit import *") == ""


def test_the_heavy_import_check_can_fail():
    assert heavy_modules_loaded_by("import eda_kit, networkx") == "networkx"


def test_every_public_name_resolves():
    missing = []
    for name in eda_kit.__all__:
        try:
            getattr(eda_kit, name)
        except (ImportError, AttributeError) as error:
            missing.append(f"{name}: {error}")
    assert not missing, "public names that do not import:\n" + "\n".join(missing)


def test_unknown_attribute_is_a_clear_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        eda_kit.Nope  # noqa: B018


def test_reproducible_refuses_a_naive_start_or_a_backward_tick():
    with pytest.raises(ValueError, match="timezone-aware"):
        eda_kit.reproducible(start=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="tick must be positive"):
        eda_kit.reproducible(tick=timedelta(0))


def test_reproducible_seeds_random():
    import random

    with eda_kit.reproducible(seed=7):
        first = [random.random() for _ in range(3)]
    with eda_kit.reproducible(seed=7):
        second = [random.random() for _ in range(3)]
    assert first == second
