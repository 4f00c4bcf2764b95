"""How soon a streamed answer starts, against waiting for the whole answer.

The tiny TRL model (built offline, on the CPU, one thread) is taught to answer "months"
with the twelve months three times over (72 tokens, then it ends its turn). It answers
REQUESTS times through ``Model.chat`` and through ``Model.stream``, alternating, in one
process; each stream is read to its end and checked against chat's answer. Printed: the
median time to the whole answer either way, and the median time to the first piece.
The ratio is the time to the first streamed piece over the time to chat's answer: how much
sooner a user sees text. Run: .venv/bin/python bench/stream.py. The last line is the figure.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import torch

import ftsdk
from ftsdk_trl import tiny

REQUESTS = 30
QUESTION = [{"role": "user", "content": "months"}]
MONTHS = " ".join(
    ["January February March April May June July August September October November December"] * 3
)


def main() -> None:
    torch.set_num_threads(1)  # steady timings on a shared machine
    with tempfile.TemporaryDirectory() as folder:
        base = tiny.build(f"{folder}/tiny", seed=0)
        answer = {"role": "assistant", "content": MONTHS}
        taught = tiny.teach(base, f"{folder}/months", [[*QUESTION, answer]])
        with ftsdk.client("trl", home=f"{folder}/home") as client:
            model = client.model(str(taught))
            expected = model.chat(QUESTION, max_tokens=100).content  # loads the model
            assert expected == MONTHS, expected
            chat, first, whole = [], [], []
            for _ in range(REQUESTS):
                began = time.perf_counter()
                model.chat(QUESTION, max_tokens=100)
                chat.append(time.perf_counter() - began)
                began = time.perf_counter()
                pieces = iter(model.stream(QUESTION, max_tokens=100))
                text = next(pieces)
                first.append(time.perf_counter() - began)
                text += "".join(pieces)
                whole.append(time.perf_counter() - began)
                assert text == expected
    ms = {name: statistics.median(times) * 1000 for name, times in
          (("chat", chat), ("first", first), ("whole", whole))}  # fmt: skip
    print(f"median over {REQUESTS}, a 72-token answer: Model.chat {ms['chat']:.1f} ms; "
          f"Model.stream first piece {ms['first']:.1f} ms, whole {ms['whole']:.1f} ms")  # fmt: skip
    print(f"whole stream / chat: {ms['whole'] / ms['chat']:.2f}")
    ratio = ms["first"] / ms["chat"]
    print(f"ratio={ratio:.3f} vs Model.chat (first streamed piece / whole answer)")


if __name__ == "__main__":
    main()
