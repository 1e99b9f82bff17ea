"""Run the benchmarks, print a table and write ``bench/results.json``.

Missed targets do not change the exit status: this is a report, not a gate. A benchmark
that crashes does (exit 1), because then there is nothing to report.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import sys
import traceback

import bench
from bench.common import (
    RESULTS_PATH,
    Figure,
    format_table,
    load_results,
    merge_figures,
    progress,
    write_results,
)

_PREFIX = "bench_"


def available() -> list[str]:
    """Short names of all benchmark modules, e.g. ``nearest`` for ``bench_nearest``."""
    return sorted(
        info.name.removeprefix(_PREFIX)
        for info in pkgutil.iter_modules(bench.__path__)
        if info.name.startswith(_PREFIX)
    )


def main(argv: list[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Run benchmarks and write bench/results.json. With names, only those run and "
            "their figures replace the same-named ones already in the file."
        ),
    )
    parser.add_argument(
        "only", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(names)}"
    )
    args = parser.parse_args(argv)

    selected = [name.removeprefix(_PREFIX) for name in args.only] or names
    unknown = sorted(set(selected) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(names)}")

    figures: list[Figure] = []
    crashed: list[str] = []
    for name in selected:
        progress(f"[{name}] running")
        try:
            module = importlib.import_module(f"bench.{_PREFIX}{name}")
            figures.extend(module.run())
        except Exception:
            traceback.print_exc()
            crashed.append(name)

    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{os.cpu_count()} CPU(s), {platform.machine()}"
    )
    print(format_table(figures))
    missed = [figure.name for figure in figures if figure.target_met() is False]
    with_target = sum(figure.target_met() is not None for figure in figures)
    print(f"\ntargets met: {with_target - len(missed)}/{with_target}")
    if missed:
        print("targets missed: " + ", ".join(missed))
    if crashed:
        print("benchmarks that crashed: " + ", ".join(crashed))

    report = figures if not args.only else merge_figures(load_results(), figures)
    write_results(report)
    print(f"wrote {RESULTS_PATH.name} ({len(report)} figures)")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
