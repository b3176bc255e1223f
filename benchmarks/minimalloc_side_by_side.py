"""MiniMalloc's C++ solver on the generated exact fits of ``exact_fits.py`` (same seeds, same
1 MiB capacity, same time limit), for a side-by-side count with `exact`.

MiniMalloc's source is not part of this repository: give a checkout of
github.com/google/minimalloc with ``--minimalloc-src DIR``. It is compiled once with g++
(C++20) against the system's abseil (Debian: ``apt-get install libabsl-dev``), found with
pkg-config, into ``--build-dir``. Each instance is written as MiniMalloc CSV
(id,lower,upper,size), solved by its binary with ``--timeout``, and its output offsets are
checked with memplan's own validator before an instance counts as solved.

    .venv/bin/python benchmarks/minimalloc_side_by_side.py --minimalloc-src ~/minimalloc \\
        [--time-limit 60] [--seeds 0-19]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from exact_fits import buffers_for, parse_seeds  # noqa: E402
from memplan.alloc.instances import exact_fit  # noqa: E402
from memplan.formats.problem_files import problem_from_csv  # noqa: E402
from memplan.verify.check import check_offsets  # noqa: E402

SOURCES = ("main.cc", "converter.cc", "minimalloc.cc", "solver.cc", "sweeper.cc", "validator.cc")
ABSL = ("absl_flags_parse", "absl_flags", "absl_statusor", "absl_status", "absl_strings", "absl_str_format",
        "absl_time", "absl_hash", "absl_raw_hash_set")


def build(src_dir: str, build_dir: str) -> str:
    """Compile MiniMalloc's command-line solver; returns the binary's path."""
    os.makedirs(build_dir, exist_ok=True)
    binary = os.path.join(build_dir, "minimalloc")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", *ABSL], check=True, capture_output=True,
                           text=True).stdout.split()
    sources = [os.path.join(src_dir, "src", name) for name in SOURCES]
    subprocess.run(["g++", "-O3", "-DNDEBUG", "-std=c++20", "-I", os.path.join(src_dir, "src"), *sources,
                    "-o", binary, *flags], check=True)
    return binary


def instance_csv(problem) -> str:
    lines = ["id,lower,upper,size"] + [f"{b.id},{b.lower},{b.upper},{b.size}" for b in problem.blocks]
    return "\n".join(lines) + "\n"


def run_one(binary: str, problem, capacity: int, time_limit: float, work: str) -> tuple[str, float]:
    """(status, seconds): "solved" only when the output offsets pass memplan's validator."""
    src, out = os.path.join(work, "in.csv"), os.path.join(work, "out.csv")
    with open(src, "w") as f:
        f.write(instance_csv(problem))
    if os.path.exists(out):
        os.remove(out)
    start = time.perf_counter()
    try:
        done = subprocess.run([binary, f"--capacity={capacity}", f"--input={src}", f"--output={out}",
                               f"--timeout={time_limit:g}s"], capture_output=True, text=True,
                              timeout=time_limit + 30)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start
    seconds = time.perf_counter() - start
    if done.returncode != 0 or not os.path.exists(out):
        return "timeout", seconds
    with open(out) as f:
        solved, offsets = problem_from_csv(f.read(), out, capacity=capacity)
    by_id = dict(zip((b.id for b in solved.blocks), offsets or ()))
    plan = tuple(by_id.get(b.id, -1) for b in problem.blocks)
    return ("solved" if check_offsets(problem, plan) == [] else "INVALID"), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minimalloc-src", required=True, help="a checkout of github.com/google/minimalloc")
    parser.add_argument("--build-dir", default=os.path.join(tempfile.gettempdir(), "minimalloc-build"))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seeds", default="0-19")
    args = parser.parse_args()
    binary = build(args.minimalloc_src, args.build_dir)
    print("| instance | buffers | MiniMalloc | seconds |")
    print("|---|---:|---|---:|")
    seeds = parse_seeds(args.seeds)
    times = []
    with tempfile.TemporaryDirectory() as work:
        for seed in seeds:
            problem, _ = exact_fit(seed, buffers_for(seed))
            status, seconds = run_one(binary, problem, problem.capacity, args.time_limit, work)
            times.append(seconds if status == "solved" else None)
            print(f"| fit{seed:02d} | {len(problem.blocks)} | {status} | {seconds:.2f} |", flush=True)
    within = lambda limit: sum(1 for t in times if t is not None and t <= limit)  # noqa: E731
    print(f"\nsolved within 10 s: {within(10)}/{len(seeds)}; within {args.time_limit:g} s: "
          f"{within(args.time_limit)}/{len(seeds)}")


if __name__ == "__main__":
    main()
