"""Figures that tests measure (fault recovery times, writes lost and duplicated, fuzzing runs):
printed where they are measured, and repeated in the test run's summary, since pytest hides
what a passing test prints (tests/conftest.py shows them)."""

from __future__ import annotations

import os

REPORTED: list[tuple[str, str]] = []


def report_figure(line: str) -> None:
    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    REPORTED.append((test, line))
    print(f"\n{line}", flush=True)
