"""Smoke test: the benchmark entry point runs end to end at tiny sizes and writes its report.

No timing is asserted here (speed is measured by `make bench`, never by the tests).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.__main__ import main


def test_quick_run_writes_results_table_and_chart(tmp_path, capsys):
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    results = (tmp_path / "RESULTS.md").read_text()
    assert results.startswith("# Benchmark results")
    assert "| Comparison | Goal | Result |" in results
    assert "Import cost" in results
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in capsys.readouterr().out


def test_unknown_part_is_refused(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--quick", "--only", "nonsense"])
    assert "unknown part(s) ['nonsense']" in capsys.readouterr().err


def test_the_course_sections_nbval_run_uses_the_makefiles_options():
    """The whole-nbval row must run nbval itself: plain `pytest notebooks` collects nothing."""
    from benchmarks.bench_course import NBVAL

    makefile = (Path(__file__).parents[2] / "Makefile").read_text(encoding="utf-8")
    line = makefile.split("NBVAL :=", 1)[1].split("\n\n", 1)[0]
    assert list(NBVAL) == line.replace("\\\n", " ").split()
