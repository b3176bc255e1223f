"""Start-up cost of the command line, as ratios against starting Python with numpy.

Measured in one run, interleaved (each round runs every command once, in turn), so that
machine load hits all of them alike; the median of ``--rounds`` is reported:

* ``python -c "import numpy"``: the baseline;
* ``memplan --help`` (target: within 2x of the baseline);
* ``memplan alloc`` of a 5-buffer problem with a heuristic (target: within 3x);
* the same with ``--algorithm best`` (reaches the bound without loading ``exact``);
* ``python -c "import memplan.alloc"`` (loads neither numba nor the compiled kernel).

``--src ../main/src`` times another checkout (e.g. before a change) the same way.

    .venv/bin/python benchmarks/startup.py [--rounds 15]

Commands run this checkout's code (``src`` first on ``PYTHONPATH``), the way the
``memplan`` console script does (``memplan.cli:main``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBLEM = "id,lower,upper,size\n0,0,3,40\n1,1,4,20\n2,2,5,30\n3,4,7,10\n4,5,8,50\n"


def commands(problem: str) -> dict[str, list[str]]:
    py = [sys.executable, "-c"]
    cli = "import sys; from memplan.cli import main; sys.argv = ['memplan'] + sys.argv[1:]; main()"
    return {
        "python -c 'import numpy'": py + ["import numpy"],
        "memplan --help": py + [cli, "--help"],
        "memplan alloc (greedy_by_size)": py + [cli, "alloc", problem, "-a", "greedy_by_size"],
        "memplan alloc (best)": py + [cli, "alloc", problem, "-a", "best"],
        "import memplan.alloc": py + ["import memplan.alloc, sys; print('numba' in sys.modules)"],
    }


def run_once(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--src", default=os.path.join(ROOT, "src"), help="the memplan source tree to time")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=args.src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory() as tmp:
        problem = os.path.join(tmp, "five.csv")
        with open(problem, "w") as f:
            f.write(PROBLEM)
        cmds = commands(problem)
        for argv in cmds.values():  # warm the file cache and the .pyc files
            run_once(argv, env)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.rounds):
            for name, argv in cmds.items():
                times[name].append(run_once(argv, env))
    base = statistics.median(times["python -c 'import numpy'"])
    print(f"| command | median seconds ({args.rounds} rounds) | ratio to numpy |")
    print("|---|---:|---:|")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"| `{name}` | {med:.3f} | {med / base:.2f}x |")


if __name__ == "__main__":
    main()
