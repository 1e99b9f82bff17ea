"""Benchmarks; run them with ``python -m bench [name ...]``.

Each ``bench_<name>.py`` module exposes ``run() -> list[Figure]``.
"""
