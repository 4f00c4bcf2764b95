"""Fixtures for the dataset toolkit: real tiktoken run offline, a tiny local HF tokenizer,
and a helper that writes files of raw bytes."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import importlib.resources
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ENCODINGS = ("o200k_base", "cl100k_base")


@pytest.fixture(scope="session")
def tiktoken_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real ``tiktoken`` module, its cache filled with its own encoding files.

    tiktoken downloads ``<name>.tiktoken`` on first use and keeps it under
    ``TIKTOKEN_CACHE_DIR/sha1(url)``; it checks the file's sha256 against the hash it pins.
    bpe-openai bundles the same files: put them where tiktoken looks, so tiktoken loads them
    (hash-checked by tiktoken itself) instead of downloading.
    """
    tiktoken = pytest.importorskip("tiktoken")
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    with warnings.catch_warnings():  # bpe-openai 0.1.4 imports with a deprecated call
        warnings.simplefilter("ignore", DeprecationWarning)
        importlib.import_module("bpe_openai")
    bundled = importlib.resources.files("bpe_openai") / "data"
    for name in ENCODINGS:
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        data = gzip.decompress((bundled / f"{name}.tiktoken.gz").read_bytes())
        (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        for name in ENCODINGS:
            tiktoken.get_encoding(name)  # loaded now, from the cache, or the test fails here
        yield tiktoken


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a byte-level BPE tokenizer and a chat template, trained here in ms."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(["convert 2024-03-07 to words", "March 7, 2024"] * 20, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", model_max_length=64
    )
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}"
    )
    folder = tmp_path_factory.mktemp("tiny-tokenizer")
    fast.save_pretrained(folder)
    return folder


def chat(
    user: str = "convert 2024-03-07 to words", answer: str = "March 7, 2024"
) -> dict[str, Any]:
    """One well-formed chat example."""
    return {
        "messages": [
            {"role": "system", "content": "You convert ISO dates to words."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ]
    }


@pytest.fixture
def chat_example() -> Callable[..., dict[str, Any]]:
    """Build one well-formed chat example."""
    return chat


@pytest.fixture
def good_lines() -> Callable[[int], list[bytes]]:
    """``n`` distinct well-formed chat examples as JSONL lines."""

    def make(n: int) -> list[bytes]:
        return [
            (json.dumps(chat(f"convert day {i}", f"Day {i}")) + "\n").encode() for i in range(n)
        ]

    return make


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, bytes | str], Path]:
    """Write ``content`` (bytes, or text as UTF-8) to ``tmp_path / name``."""

    def write(name: str, content: bytes | str) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return write


CONCATENATING_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + "
    "'<|im_end|>\\n' }}{% endfor %}"
)
"""A chat template that joins strings with ``+``, as ftsdk_trl.tiny's and many models' do:
content that is not a string (a tool call's null, a list of parts) breaks it."""


@pytest.fixture(scope="session")
def concatenating_tokenizer(tiny_tokenizer: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny tokenizer with :data:`CONCATENATING_TEMPLATE` as its chat template."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer)
    tokenizer.chat_template = CONCATENATING_TEMPLATE
    folder = tmp_path_factory.mktemp("concatenating-tokenizer")
    tokenizer.save_pretrained(folder)
    return folder
