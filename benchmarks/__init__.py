"""Benchmarks: eda_kit side by side with the libraries people would otherwise pick.

Run them with ``make bench`` or ``python -m benchmarks`` (``--quick`` for tiny sizes). Each
comparison runs all contenders in one process, interleaved over several rounds, and keeps each
contender's best round, so a busy moment on the machine hurts everyone alike. Results are
reported as ratios (to the floor of what Python allows, or to the peer library) in
``benchmarks/RESULTS.md`` and ``benchmarks/results.png``.
"""
