"""``Dataset``: training examples from a file or Python objects, read lazily and streamed."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftsdk._vocab import DataFormat
from ftsdk.dataset.cost import CostEstimate, TokenStats
from ftsdk.dataset.formats import ConversionError, convert, detect_format
from ftsdk.dataset.problems import Problem, Severity, ValidationReport
from ftsdk.dataset.sources import (
    MAX_LINE_BYTES,
    Example,
    Item,
    RowShaper,
    read_csv,
    read_hf,
    read_json,
    read_jsonl,
    read_parquet,
    read_records,
)
from ftsdk.dataset.targets import Target
from ftsdk.dataset.writing import jsonl_bytes, write_atomic
from ftsdk.errors import InvalidDataset, InvalidRequest

if TYPE_CHECKING:
    from ftsdk.dataset.estimate import TrainingEstimate
    from ftsdk.spec import DPO, SFT

__all__ = ["Dataset"]

_CHUNK = 1 << 20
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}


class Dataset:
    """Training examples, read lazily from where they are, and never modified there.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.jsonl"
    >>> _ = path.write_text('{"text": "a"}\\n{"text": "b"}\\n')
    >>> ds = Dataset.from_jsonl(path)
    >>> [row["text"] for row in ds], len(ds.content_hash())
    (['a', 'b'], 64)
    >>> report = ds.validate()
    >>> report.ok, report.format, report.examples
    (True, 'text', 2)

    Check data against a provider's rules, count tokens and estimate the cost::

        report = Dataset.load("train.jsonl").validate(target=("openai", "gpt-4o-mini"))
        for problem in report.errors:
            print(problem)        # train.jsonl:17: messages[2].content: empty content
        print(report.stats.total, report.cost.usd)
    """

    def __init__(
        self,
        read: Callable[[], Iterator[Item]],
        *,
        name: str,
        path: Path | None = None,
        raw: bool = False,
    ) -> None:
        self._read = read
        self.name = name
        """A label for reports: the file name, or ``<records>``."""
        self._path = path
        self._raw = raw

    # -- sources -------------------------------------------------------------------------
    @classmethod
    def from_jsonl(cls, path: str | Path, *, max_line_bytes: int = MAX_LINE_BYTES) -> Dataset:
        """A dataset backed by the JSON Lines file at ``path`` (streamed)."""
        file = Path(path)
        return cls(
            lambda: read_jsonl(file, max_line_bytes=max_line_bytes),
            name=file.name,
            path=file,
            raw=True,
        )

    @classmethod
    def from_json(cls, path: str | Path) -> Dataset:
        """A dataset from a JSON file holding an array of examples (loaded whole)."""
        file = Path(path)
        return cls(lambda: read_json(file), name=file.name, path=file)

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        *,
        columns: Mapping[str, str] | None = None,
        template: Mapping[str, Any] | None = None,
        delimiter: str = ",",
    ) -> Dataset:
        """A dataset from a CSV file with a header row.

        Without arguments each row's columns are the example's fields (a ``messages`` column
        holds JSON). ``columns={"prompt": "question", "completion": "answer"}`` maps fields to
        columns; ``template=`` builds each example from a structure whose strings name columns::

            Dataset.from_csv("recipes.csv", template={"messages": [
                {"role": "system", "content": "You are a helpful recipe assistant."},
                {"role": "user", "content": "Ingredients for {title}?"},
                {"role": "assistant", "content": "{ingredients}"}]})
        """
        file, shaper = Path(path), RowShaper(columns, template)
        return cls(lambda: read_csv(file, shaper, delimiter=delimiter), name=file.name, path=file)

    @classmethod
    def from_parquet(
        cls,
        path: str | Path,
        *,
        columns: Mapping[str, str] | None = None,
        template: Mapping[str, Any] | None = None,
    ) -> Dataset:
        """A dataset from a Parquet file, read in batches (``columns``/``template`` as for CSV)."""
        file, shaper = Path(path), RowShaper(columns, template)
        return cls(lambda: read_parquet(file, shaper), name=file.name, path=file)

    @classmethod
    def from_hf(
        cls,
        dataset: Any,
        *,
        columns: Mapping[str, str] | None = None,
        template: Mapping[str, Any] | None = None,
        name: str = "<datasets.Dataset>",
    ) -> Dataset:
        """A dataset from a Hugging Face ``datasets.Dataset`` (one split)."""
        shaper = RowShaper(columns, template)
        return cls(lambda: read_hf(dataset, shaper, name), name=name)

    @classmethod
    def from_records(
        cls, records: Iterable[Mapping[str, Any]], *, name: str = "<records>"
    ) -> Dataset:
        """A dataset from Python mappings. A one-shot iterator is read into a list first."""
        rows = records if isinstance(records, list | tuple) else list(records)
        return cls(lambda: read_records(rows, name), name=name)

    @classmethod
    def load(cls, path: str | Path, **options: Any) -> Dataset:
        """A dataset from a file, by its suffix: .jsonl, .json, .csv, .tsv or .parquet."""
        file = Path(path)
        kind = _SUFFIXES.get(file.suffix.lower())
        if kind == "jsonl":
            return cls.from_jsonl(file, **options)
        if kind == "json":
            return cls.from_json(file)
        if kind in ("csv", "tsv"):
            return cls.from_csv(file, delimiter="\t" if kind == "tsv" else ",", **options)
        if kind == "parquet":
            return cls.from_parquet(file, **options)
        raise InvalidRequest(
            f"{file}: unknown file type {file.suffix!r} (expected one of: "
            f"{', '.join(sorted(_SUFFIXES))})",
            field="path",
        )

    # -- reading -------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """The JSONL file that holds exactly this dataset (what an upload sends).

        :raises ftsdk.errors.InvalidRequest: the dataset is not a JSONL file as it is (CSV,
            Parquet, Python objects, a split or a conversion): :meth:`write` it first.
        """
        if self._path is None or not self._raw:
            raise InvalidRequest(
                f"{self.name} is not a JSONL file as it stands; write it first: "
                "dataset.write('train.jsonl')",
                field="training_data",
            )
        return self._path

    def items(self) -> Iterator[Item]:
        """Examples and reading problems, in source order (what :meth:`validate` checks)."""
        return self._read()

    def examples(self) -> Iterator[Example]:
        """The examples that could be read, each with its origin."""
        return (item for item in self._read() if isinstance(item, Example))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (example.data for example in self.examples())

    def count(self) -> int:
        """How many examples can be read (one pass)."""
        return sum(1 for _ in self.examples())

    def detect_format(self) -> DataFormat | None:
        """The format of the first example in a known format, or ``None``."""
        for example in self.examples():
            found = detect_format(example.data)
            if found is not None:
                return found
        return None

    def __repr__(self) -> str:
        return f"Dataset({self.name!r})"

    # -- checking ------------------------------------------------------------------------
    def validate(
        self,
        target: Target | tuple[str, str] | None = None,
        *,
        epochs: int | str = "auto",
        max_problems: int = 20,
        strict: bool = False,
        allow_duplicates: bool | None = None,
        count_tokens: bool = True,
    ) -> ValidationReport:
        """Check every example and the whole dataset; never raises on bad data.

        :param target: a :class:`Target` or ``(provider, model)``; without one only the format
            is checked (no tokens, limits or cost).
        :param epochs: planned epochs, or ``"auto"`` for the provider's default rule.
        :param max_problems: problems kept per kind (every one is counted).
        :param strict: also fail on what providers accept but is often a mistake: repeated
            examples are errors, not warnings (OpenAI trains on them: people repeat
            examples on purpose).
        :param allow_duplicates: whether repeated examples are warnings (``True``) or errors
            (``False``) whatever ``strict`` says; by default they follow ``strict``.
        :param count_tokens: count tokens with the target's tokenizer.
        :returns: the :class:`ValidationReport`; call ``.raise_for_errors()`` to fail on errors.
        """
        from ftsdk.dataset.validation import validate_items

        resolved = Target.for_model(*target) if isinstance(target, tuple) else target
        if allow_duplicates is None:
            allow_duplicates = not strict
        file_bytes = None
        if self._raw and self._path is not None:
            try:
                file_bytes = self._path.stat().st_size
            except OSError:
                file_bytes = None
        return validate_items(
            self.items(),
            target=resolved,
            epochs=epochs,
            cap=max_problems,
            duplicates=Severity.WARNING if allow_duplicates else Severity.ERROR,
            file_bytes=file_bytes,
            count_tokens=count_tokens,
        )

    def token_stats(self, target: Target | tuple[str, str]) -> TokenStats:
        """Tokens per example with the target's tokenizer (well-formed examples only)."""
        stats = self.validate(target).stats
        if stats is None:
            raise InvalidRequest("tokens could not be counted: no tokenizer for the target")
        result: TokenStats = stats
        return result

    def estimate_cost(
        self,
        target: Target | tuple[str, str],
        *,
        epochs: int | str = "auto",
        token_price: float | None = None,
    ) -> CostEstimate:
        """Billed tokens and price of training on this data (an estimate)::

            cost = dataset.estimate_cost(("azure", "gpt-4.1-mini"), token_price=5.0)
            cost.usd, cost.hosting  # ..., 'then $1.70/hour while deployed (Standard/...)'

        :param token_price: your price, USD per 1M training tokens (where the provider's is
            not recorded: Azure prices by region and tier). Unset,
            ``FTSDK_<PROVIDER>_TOKEN_PRICE`` if set (``FTSDK_AZURE_TOKEN_PRICE``), else the
            recorded price; with none, ``usd`` is ``None`` and ``no_price`` says where to
            find one.
        """
        resolved = Target.for_model(*target) if isinstance(target, tuple) else target
        cost = self.validate(resolved.with_token_price(token_price), epochs=epochs).cost
        if cost is None:
            raise InvalidRequest("tokens could not be counted: no tokenizer for the target")
        result: CostEstimate = cost
        return result

    def estimate_training(
        self,
        target: Target | tuple[str, str],
        method: SFT | DPO | None = None,
        *,
        gradient_checkpointing: bool = False,
        lora_target_modules: str | Sequence[str] = "all-linear",
        mfu: float | None = None,
        gpu_hour_price: float | None = None,
    ) -> TrainingEstimate:
        """GPU memory and time of training a local model on this data: an ESTIMATE (±50 %)
        from the model's shape (read from its files, not loaded) and this data's tokens.

        ::

            est = dataset.estimate_training(("trl", "models/llama"), SFT(adapter="lora"))
            est.memory.total / 2**30, [(g.gpu.name, g.fits, g.hours) for g in est.gpus]
            dataset.estimate_training(("trl", "models/llama"), gpu_hour_price=2.5).gpus[0].cost

        :param target: a local target (``trl``, ``autotrain``) whose model is a folder (or a
            model in the local Hugging Face cache).
        :param method: ``SFT(...)`` or ``DPO(...)``; its ``adapter``, ``batch_size``,
            ``epochs``, ``max_seq_length`` and ``lora_r`` apply, unset ones as the TRL
            plugin sets them (full, 8, 3, 1024, 16; epochs as the target's provider
            defaults them: AutoTrain trains 1). One GPU holds ``batch_size`` divided by
            ``gradient_accumulation_steps`` at once (the estimate's ``batch_size``).
        :param gradient_checkpointing: as the job's provider option of that name.
        :param lora_target_modules: as the job's provider option (``"all-linear"``).
        :param mfu: the fraction of a GPU's peak FLOPS the run achieves (default 0.35).
        :param gpu_hour_price: USD per GPU-hour: each GPU's ``cost`` is then GPU-hours x GPUs
            x this rate. Unset, ``FTSDK_GPU_HOUR_PRICE`` applies; with neither there is no
            money figure (``cost`` is ``None`` and ``cost_basis`` says how to get one).
        :raises ftsdk.errors.InvalidRequest: not a local target, a bad model folder (named),
            no tokens counted, a bad rate.
        """
        from ftsdk.dataset.estimate import (
            DEFAULT_MFU,
            LOCAL_DEFAULTS,
            estimate_training,
            read_model_shape,
        )

        resolved = Target.for_model(*target) if isinstance(target, tuple) else target
        if resolved.hf_tokenizer is None:
            raise InvalidRequest(
                f"{resolved.label} trains on the provider's own hardware: training estimates "
                "are for local providers (trl, autotrain)",
                field="provider",
            )
        shape = read_model_shape(resolved.model)  # a bad folder fails here, before counting
        chosen: dict[str, Any] = dict(LOCAL_DEFAULTS)
        if resolved.default_epochs is not None:
            chosen["epochs"] = resolved.default_epochs  # the provider's own default
        if method is not None:
            chosen |= {k: v for k, v in method.explicit().items() if k in LOCAL_DEFAULTS}
        kind = method.type if method is not None else "sft"
        # batch_size is examples per optimizer step: one GPU holds a micro-batch of it
        accumulation = (method.gradient_accumulation_steps if method is not None else None) or 1
        stats = self.token_stats(resolved)
        per_example = chosen["max_seq_length"] * (2 if kind == "dpo" else 1)
        return estimate_training(
            shape,
            tokens=stats.clipped(per_example),
            longest=stats.max,
            adapter=(method.adapter if method is not None else None) or "full",
            method=kind,
            batch_size=max(1, chosen["batch_size"] // accumulation),
            max_seq_length=chosen["max_seq_length"],
            epochs=chosen["epochs"],
            lora_r=chosen["lora_r"],
            lora_target_modules=lora_target_modules,
            gradient_checkpointing=gradient_checkpointing,
            mfu=DEFAULT_MFU if mfu is None else mfu,
            gpu_hour_price=gpu_hour_price,
        )

    # -- transforming --------------------------------------------------------------------
    def convert(self, to: DataFormat | str, *, preference: str = "openai") -> Dataset:
        """This dataset in another format (lazy). Reading an example that does not convert
        raises :class:`ftsdk.errors.InvalidDataset` naming it.

        :param preference: for preference pairs, ``"openai"`` or ``"trl"`` shape.
        """
        goal = DataFormat(to)

        def read() -> Iterator[Item]:
            for item in self._read():
                if isinstance(item, Problem):
                    yield item
                    continue
                found = detect_format(item.data)
                if found is None:
                    yield item
                    continue
                try:
                    yield Example(
                        convert(item.data, found, goal, preference=preference), item.origin
                    )
                except ConversionError as err:
                    where = f"{item.origin}: {err.field}: " if err.field else f"{item.origin}: "
                    raise InvalidDataset(
                        f"{where}{err}", problems=[f"{where}{err}"], field=err.field or None
                    ) from err

        return Dataset(read, name=self.name)

    def split(self, validation: float = 0.1, *, seed: int = 0) -> tuple[Dataset, Dataset]:
        """``(train, validation)``: a deterministic split by ``seed`` (same seed, same split).

        ``validation`` is a fraction (0 < v < 1) or a number of examples (>= 1). Examples keep
        their order in both parts.
        """
        total = self.count()
        if 0 < validation < 1:
            size = max(1, round(total * validation)) if total > 1 else 0
        elif validation >= 1 and float(validation).is_integer():
            size = int(validation)
        else:
            raise InvalidRequest(
                f"validation must be a fraction in (0, 1) or a count, not {validation!r}",
                field="validation",
            )
        if size >= total:
            raise InvalidRequest(
                f"a validation part of {size} leaves no training data ({total} examples)",
                field="validation",
            )
        chosen = frozenset(random.Random(seed).sample(range(total), size))  # membership only

        def part(held_out: bool) -> Callable[[], Iterator[Item]]:
            def read() -> Iterator[Item]:
                index = 0
                for item in self._read():
                    if isinstance(item, Example):
                        if (index in chosen) is held_out:
                            yield item
                        index += 1
                    else:  # in both parts: what cannot be read is never lost without a word
                        yield item

            return read

        return (
            Dataset(part(False), name=f"{self.name} (train)"),
            Dataset(part(True), name=f"{self.name} (validation)"),
        )

    # -- writing -------------------------------------------------------------------------
    def _rows(self, fmt: DataFormat | None, preference: str) -> Iterator[dict[str, Any]]:
        source = self.convert(fmt, preference=preference) if fmt is not None else self
        broken: list[Problem] = []
        for item in source.items():
            if isinstance(item, Example):
                yield item.data
            else:
                broken.append(item)
        if broken:  # raised at the end: every broken line is named, and nothing is written
            where = "; ".join(str(problem) for problem in broken[:5])
            more = f" (and {len(broken) - 5} more)" if len(broken) > 5 else ""
            raise InvalidDataset(
                f"{len(broken)} line(s) of {self.name} cannot be read, so nothing was "
                f"written (fix or remove them, then write again): {where}{more}",
                problems=[str(problem) for problem in broken],
            )

    def write(
        self,
        path: str | Path,
        *,
        format: DataFormat | str | None = None,
        preference: str = "openai",
    ) -> Path:
        """Write the examples as JSON Lines to ``path`` atomically, converted to ``format``
        when given.

        :raises ftsdk.errors.InvalidRequest: ``path`` is this dataset's own source file.
        :raises ftsdk.errors.InvalidDataset: a line cannot be read (each one is named) or an
            example does not convert; nothing is written then, so no line is lost unsaid.
        """
        target = Path(path)
        if self._path is not None and target.resolve() == self._path.resolve():
            raise InvalidRequest(
                f"refusing to overwrite the source {self._path}: write to another file",
                field="path",
            )
        fmt = DataFormat(format) if format is not None else None
        return write_atomic(target, jsonl_bytes(self._rows(fmt, preference)))

    def content_hash(self) -> str:
        """sha256 of the JSONL bytes that an upload sends: the file's own bytes for a JSONL
        file, else the bytes :meth:`write` produces. Stable across runs and machines."""
        digest = hashlib.sha256()
        if self._raw and self._path is not None:
            with self._path.open("rb") as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
        else:
            for line in jsonl_bytes(self):
                digest.update(line)
        return digest.hexdigest()
