"""How long `import ftsdk` takes, as a ratio to `import openai`, measured side by side.

Each import runs in a fresh interpreter (so nothing is cached in sys.modules), the two
alternate, and the medians are compared. Run: .venv/bin/python bench/import_time.py [N]
The last line is the figure: ratio=<ftsdk/openai> vs import openai.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

PROBE = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"


def once(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(m=module)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    once("ftsdk")
    once("openai")  # warm the file cache for both
    times: dict[str, list[float]] = {"ftsdk": [], "openai": []}
    for _ in range(rounds):
        for module, samples in times.items():
            samples.append(once(module))
    ftsdk_ms = statistics.median(times["ftsdk"]) * 1000
    openai_ms = statistics.median(times["openai"]) * 1000
    print(f"import ftsdk:  median {ftsdk_ms:.1f} ms over {rounds} fresh interpreters")
    print(f"import openai: median {openai_ms:.1f} ms over {rounds} fresh interpreters")
    print(f"ratio={ftsdk_ms / openai_ms:.3f} vs import openai")


if __name__ == "__main__":
    main()
