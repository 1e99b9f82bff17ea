"""Shared pieces for benchmarks: the Figure record, timing helpers and the report writer."""

from __future__ import annotations

import gc
import json
import math
import operator
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"

_TARGET_RE = re.compile(r"^\s*(<=|>=|==|<|>)\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")
_COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number.

    ``target`` is a comparison such as ``"<= 1"`` applied to ``value``; ``baseline`` says
    what the number was measured against, for ratios and correctness checks.
    """

    name: str
    value: float
    unit: str
    target: str | None = None
    baseline: str | None = None

    def __post_init__(self) -> None:
        if self.target is not None and not _TARGET_RE.match(self.target):
            raise ValueError(f"{self.name}: unparsable target {self.target!r}")

    def target_met(self) -> bool | None:
        """True/False against the target, None when there is no target."""
        if self.target is None:
            return None
        match = _TARGET_RE.match(self.target)
        assert match is not None  # validated in __post_init__
        op, bound = match.groups()
        return _COMPARATORS[op](self.value, float(bound))


# ---- timing -------------------------------------------------------------------------


def timed_ns(fn: Callable[..., T], *args: object) -> tuple[T, int]:
    """Call ``fn(*args)`` once; return its result and the wall time in nanoseconds."""
    start = time.perf_counter_ns()
    result = fn(*args)
    return result, time.perf_counter_ns() - start


def settle() -> None:
    """Collect garbage before a timed loop so an earlier phase's debris is not billed to it."""
    gc.collect()


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: a value that was actually observed, never interpolated."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def ns_to_ms(ns: float) -> float:
    return ns / 1e6


def ns_to_s(ns: float) -> float:
    return ns / 1e9


def progress(message: str) -> None:
    """Status line on stderr, so long runs show life without polluting the report."""
    print(message, file=sys.stderr, flush=True)


# ---- reporting ----------------------------------------------------------------------


def _format_value(value: float) -> str:
    if isinstance(value, int) or (math.isfinite(value) and value == int(value)):
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_table(figures: Iterable[Figure]) -> str:
    """Human-readable report; the status column shows whether each target is met."""
    header = ("figure", "value", "unit", "target", "status", "baseline")
    rows = [header]
    for figure in figures:
        met = figure.target_met()
        status = "-" if met is None else ("met" if met else "MISSED")
        rows.append(
            (
                figure.name,
                _format_value(figure.value),
                figure.unit,
                figure.target or "-",
                status,
                figure.baseline or "-",
            )
        )
    widths = [max(len(row[col]) for row in rows) for col in range(len(header))]
    right_aligned = {1}
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(widths[col]) if col in right_aligned else cell.ljust(widths[col])
            for col, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def load_results(path: Path = RESULTS_PATH) -> list[Figure]:
    """Figures from an earlier report; empty if there is none or it is unreadable."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [Figure(**item) for item in raw]
    except (OSError, ValueError, TypeError):
        return []


def write_results(figures: Iterable[Figure], path: Path = RESULTS_PATH) -> None:
    """Write figures as a JSON list of ``{name, value, unit, target, baseline}``."""
    payload = [asdict(figure) for figure in figures]
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # Atomic replace so an interrupted run never leaves half a report behind.
    tmp.replace(path)


def merge_figures(old: Iterable[Figure], new: Iterable[Figure]) -> list[Figure]:
    """``old`` with same-named figures replaced by ``new`` and the rest of ``new`` appended."""
    fresh = {figure.name: figure for figure in new}
    merged = [fresh.pop(figure.name, figure) for figure in old]
    merged.extend(fresh.values())
    return merged
