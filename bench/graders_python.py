"""Time to score many answers with a Python grader: ``run_many`` (one child process for the
batch) versus ``run`` for each answer (a child process each).

The grader is the published example (``output_text == item["label"]``), on 50 answers.
Run: .venv/bin/python bench/graders_python.py
The last line is the figure: ratio=<run_many/run each> vs a child process per answer.
"""

from __future__ import annotations

import statistics
import time

from ftsdk.graders import Python

ANSWERS = 50
ROUNDS = 3
GRADER = Python(
    name="exact",
    source=(
        "def grade(sample, item):\n"
        "    return 1.0 if sample['output_text'] == item['label'] else 0.0\n"
    ),
)


def main() -> None:
    samples = [f"answer {n}" for n in range(ANSWERS)]
    items = [{"label": f"answer {n}" if n % 2 else "other"} for n in range(ANSWERS)]
    each_times, many_times = [], []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        each = [GRADER.run(s, item=i).reward for s, i in zip(samples, items, strict=True)]
        each_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        many = [r.reward for r in GRADER.run_many(samples, items=items)]
        many_times.append(time.perf_counter() - started)
        assert each == many
    each_s, many_s = statistics.median(each_times), statistics.median(many_times)
    print(f"run each: {each_s:.2f} s for {ANSWERS} answers ({each_s / ANSWERS * 1000:.0f} ms each)")
    print(f"run_many: {many_s:.2f} s for {ANSWERS} answers")
    print(f"ratio={many_s / each_s:.3f} vs a child process per answer")


if __name__ == "__main__":
    main()
