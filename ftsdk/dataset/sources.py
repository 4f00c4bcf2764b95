"""Reading examples from where they live: JSONL, JSON, CSV, Parquet, a Hugging Face
``datasets.Dataset`` or Python objects. Every reader streams what it can, never raises on bad
input, and yields either an :class:`Example` (with its origin) or a :class:`Problem`."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import string
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from json.scanner import make_scanner
from pathlib import Path
from typing import Any

from pydantic_core import from_json

from ftsdk.dataset.problems import Origin, Problem

__all__ = [
    "MAX_LINE_BYTES",
    "Example",
    "Item",
    "open_regular",
    "read_csv",
    "read_hf",
    "read_json",
    "read_jsonl",
    "read_parquet",
    "read_records",
    "why_not_a_file",
]

_MASK64 = (1 << 64) - 1

MAX_LINE_BYTES = 64 << 20
"""Longest JSONL line read (64 MiB); a longer one is reported and skipped, never loaded."""


@dataclass(frozen=True, slots=True)
class Example:
    """One example as read: its fields and where it came from."""

    data: dict[str, Any]
    """The example's fields."""
    origin: Origin
    """Where it came from."""
    fingerprint: int | None = None
    """A 64-bit hash of the example's source text, when the reader has it (duplicates)."""
    text_checked: bool = False
    """Whether the reader made sure every string is text (no lone surrogate)."""


Item = Example | Problem
"""What a reader yields."""
Reader = Callable[[], Iterator[Item]]


def _json_problem(err: json.JSONDecodeError | RecursionError, origin: Origin) -> Problem:
    if isinstance(err, RecursionError):
        return Problem("bad_json", "not valid JSON: nested too deeply", origin)
    ended = err.pos >= len(err.doc.rstrip()) or err.msg.startswith("Unterminated string")
    hint = " (is the line truncated?)" if ended else ""
    msg = err.msg.removesuffix(" at")
    return Problem("bad_json", f"not valid JSON: {msg} at column {err.colno}{hint}", origin)


_LONG_NUMBER = re.compile(rf"-?\d{{{sys.get_int_max_str_digits() + 1},}}")


def _number_problem(text: str, origin: Origin, field: str = "") -> Problem:
    """The problem of JSON holding an integer longer than Python converts (4,300 digits)."""
    found = _LONG_NUMBER.search(text)
    size = f" of {len(found.group().lstrip('-')):,} digits" if found else ""
    where = f" at column {found.start() + 1}" if found else ""
    return Problem(
        "bad_json",
        f"not valid JSON: an integer{size}{where}; "
        f"at most {sys.get_int_max_str_digits():,} digits are read",
        origin,
        field,
    )


def _utf8_problem(err: UnicodeDecodeError, origin: Origin) -> Problem:
    bad = err.object[err.start : err.start + 1].hex()
    return Problem(
        "bad_utf8", f"not UTF-8 text: byte 0x{bad} at byte {err.start + 1} of the line", origin
    )


def _unreadable(path: Path, err: Exception) -> Problem:
    if isinstance(err, FileNotFoundError):
        reason = "no such file"
    elif isinstance(err, IsADirectoryError):
        reason = "it is a directory, not a file"
    else:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    return Problem("unreadable", f"cannot read {path}: {reason}", Origin(path.name))


_NOT_REGULAR = {
    stat.S_IFDIR: "it is a directory, not a file",
    stat.S_IFIFO: "it is a FIFO (named pipe), not a regular file",
    stat.S_IFSOCK: "it is a socket, not a regular file",
    stat.S_IFCHR: "it is a character device, not a regular file",
    stat.S_IFBLK: "it is a block device, not a regular file",
}


def why_not_a_file(path: Path) -> str | None:
    """Why ``path`` is no data file to read (``"no such file 'x.jsonl'"``, ``"'data' is a
    directory, not a file"``, a FIFO, ...), or ``None`` when it is a regular file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"no such file {str(path)!r}"
    except OSError as err:
        return f"cannot read {str(path)!r}: {err.strerror or err}"
    if stat.S_ISREG(mode):
        return None
    return f"{str(path)!r}: {_NOT_REGULAR.get(stat.S_IFMT(mode), 'not a regular file')}"


def open_regular(path: Path) -> io.BufferedReader | Problem:
    """``path`` opened for reading in binary, or the ``unreadable`` problem saying why not.

    Only regular files are read: data is read more than once (checked, then uploaded or
    copied), and a FIFO or a device would block or give other bytes the second time. The
    file is opened without blocking, then its type checked on the open descriptor.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        return _unreadable(path, err)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            reason = _NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")
            os.close(fd)
            return Problem("unreadable", f"cannot read {path}: {reason}", Origin(path.name))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return open(fd, "rb")  # the caller closes it
    except BaseException:
        os.close(fd)
        raise


def read_jsonl(  # noqa: PLR0912, PLR0915  # one branch per way a line can be broken
    path: Path, *, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[Item]:
    """Examples of a JSON Lines file, one per non-blank line, streamed."""
    name = path.name
    loads = json.loads
    # What json.loads runs, without its wrapper (typeshed types make_scanner as a class).
    scan: Callable[[str, int], tuple[Any, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
    stream = open_regular(path)
    if isinstance(stream, Problem):
        yield stream
        return
    with stream:
        number = 0
        while raw := stream.readline(max_line_bytes + 1):
            number += 1
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                size = len(raw)
                while chunk := stream.readline(1 << 20):  # skip the rest, never hold it
                    size += len(chunk)
                    if chunk.endswith(b"\n"):
                        break
                yield Problem(
                    "line_too_long",
                    f"line of {size:,} bytes is longer than {max_line_bytes:,}; skipped",
                    Origin(name, number),
                )
                continue
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a byte-order mark, as some editors write
            parsed_fast = True  # pydantic-core refuses lone surrogates: its strings are text
            try:  # pydantic-core's JSON parser, on the bytes: twice as fast as decode + json
                data = from_json(raw)
            except ValueError:
                parsed_fast = False  # stricter than json (a lone surrogate escape): json decides
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    yield _utf8_problem(err, Origin(name, number))
                    continue
                try:  # json.loads without its Python wrapper: one C call
                    data, end = scan(text, 0)
                    if end != len(text) and not text[end:].isspace():
                        raise ValueError(text) from None
                except (StopIteration, ValueError, RecursionError):
                    if not text.strip():
                        continue
                    try:  # the same parse again, for json.loads' own error; without the
                        # line's end, or a truncated line would break at "line 2 column 1"
                        data = loads(text.rstrip("\r\n"))
                    except (json.JSONDecodeError, RecursionError) as err:
                        yield _json_problem(err, Origin(name, number))
                        continue
                    except ValueError:  # an integer longer than Python reads
                        yield _number_problem(text, Origin(name, number))
                        continue
            if data.__class__ is dict:
                # Duplicates are found within one run: Python's (keyed) 64-bit hash is enough.
                yield Example(data, Origin(name, number), hash(raw.strip()) & _MASK64, parsed_fast)
            else:
                yield Problem(
                    "not_an_object",
                    f"a JSON {type(data).__name__} where an object was expected",
                    Origin(name, number),
                )


def read_json(  # noqa: PLR0911, PLR0912, PLR0915  # an array parsed element-wise
    path: Path,
) -> Iterator[Item]:
    """Examples of a JSON file holding an array of objects (loaded whole: prefer JSONL)."""
    name = path.name
    stream = open_regular(path)
    if isinstance(stream, Problem):
        yield stream
        return
    try:
        with stream:
            raw = stream.read()
    except OSError as err:
        yield _unreadable(path, err)
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        yield Problem(
            "bad_utf8", f"not UTF-8 text: byte 0x{raw[err.start]:02x}", Origin(name, line)
        )
        return
    decoder = json.JSONDecoder()
    pos, line, counted = 0, 1, 0
    size = len(text)

    def skip(at: int) -> int:
        while at < size and text[at] in " \t\r\n":
            at += 1
        return at

    pos = skip(pos)
    if pos < size and text[pos] != "[":  # a single object
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as err:
            origin = Origin(name, err.lineno if isinstance(err, json.JSONDecodeError) else 1)
            yield _json_problem(err, origin)
            return
        except ValueError:  # an integer longer than Python reads
            yield _number_problem(text, Origin(name, 1))
            return
        if isinstance(data, dict):
            yield Example(data, Origin(name, line))
        else:
            yield Problem("not_an_object", "expected an array of objects", Origin(name, 1))
        return
    pos = skip(pos + 1)
    while pos < size and text[pos] != "]":
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            data, end = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError) as err:
            where = err.lineno if isinstance(err, json.JSONDecodeError) else line
            yield _json_problem(err, Origin(name, where))
            return
        except ValueError:  # an integer longer than Python reads
            start, end = text.rfind("\n", 0, pos) + 1, text.find("\n", pos)
            yield _number_problem(text[start : end if end >= 0 else size], Origin(name, line))
            return
        if isinstance(data, dict):
            yield Example(data, Origin(name, line))
        else:
            yield Problem(
                "not_an_object", f"a JSON {type(data).__name__} in the array", Origin(name, line)
            )
        pos = skip(end)
        if pos < size and text[pos] == ",":
            pos = skip(pos + 1)
        elif pos < size and text[pos] != "]":
            line += text.count("\n", counted, pos)
            counted = pos
            yield Problem("bad_json", "expected ',' or ']' after an element", Origin(name, line))
            return
    if pos >= size:
        yield Problem(
            "bad_json", "the array is not closed (is the file truncated?)", Origin(name, line)
        )


# -- tables: CSV, Parquet, HF ------------------------------------------------------------


def _placeholders(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """``(column, field path)`` for every ``{column}`` in a template."""
    if isinstance(value, str):
        for _, column, _, _ in string.Formatter().parse(value):
            if column:
                yield column, path
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _placeholders(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _placeholders(item, f"{path}[{i}]")


def _fill(value: Any, row: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format_map(row)
    if isinstance(value, Mapping):
        return {key: _fill(item, row) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, row) for item in value]
    return value


class RowShaper:
    """Turns a table row into an example: as it is, by a column mapping, or by a template.

    :param columns: ``{field: column}``, e.g. ``{"prompt": "question", "completion": "answer"}``.
    :param template: a JSON-like structure whose strings name columns as ``{column}``, e.g.
        ``{"messages": [{"role": "user", "content": "Recipe for {title}?"},
        {"role": "assistant", "content": "{ingredients}"}]}``.
    """

    def __init__(
        self, columns: Mapping[str, str] | None = None, template: Mapping[str, Any] | None = None
    ) -> None:
        if columns is not None and template is not None:
            raise ValueError("give columns= or template=, not both")
        self.columns = dict(columns) if columns else None
        self.template = template

    def missing(self, header: Iterable[str]) -> list[tuple[str, str]]:
        """``(column, where it is used)`` for each column the header lacks."""
        have = set(header)
        if self.columns:
            return [
                (col, f"columns.{field}") for field, col in self.columns.items() if col not in have
            ]
        if self.template is not None:
            return [
                (col, f"template.{path}")
                for col, path in _placeholders(self.template, "")
                if col not in have
            ]
        return []

    def unmapped(self, header: list[str], origin: Origin) -> Problem | None:
        """One problem for a whole table whose columns are in no known format and that has
        no mapping (rather than the same problem for every row), saying how to map them."""
        from ftsdk.dataset.formats import detect_format

        if self.columns or self.template is not None or not header:
            return None
        if detect_format(dict.fromkeys(header)) is not None:
            return None
        first, second = (header + header)[:2]
        return Problem(
            "unknown_format",
            f"the columns ({', '.join(header)}) are in none of the known formats "
            "(messages, prompt/completion, a preference pair, text): map them, e.g. "
            f"--column prompt={first} --column completion={second}, or build each example "
            "with --template FILE (in Python: columns= or template=)",
            origin,
        )

    def header_problems(self, header: list[str], origin: Origin, place: str) -> list[Problem]:
        """What makes a table with these columns unreadable: one problem for columns in no
        known format without a mapping, or one per column the mapping names and the
        ``place`` (the header, the file) lacks."""
        try:
            "".join(header).encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8, read with surrogateescape
            return [Problem("bad_utf8", f"not UTF-8 text in the {place} row", origin)]
        unmapped = self.unmapped(header, origin)
        if unmapped is not None:
            return [unmapped]
        return [
            Problem(
                "missing_column",
                f"column {column!r} is not in the {place} (columns: {', '.join(header)})",
                origin,
                used,
            )
            for column, used in self.missing(header)
        ]

    def shape(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The example for ``row``."""
        if self.columns:
            return {field: row.get(col) for field, col in self.columns.items()}
        if self.template is not None:
            text_row = {key: "" if value is None else value for key, value in row.items()}
            filled: dict[str, Any] = _fill(self.template, text_row)
            return filled
        return dict(row)


_JSON_COLUMNS = ("messages", "tools", "input", "preferred_output", "non_preferred_output")


def read_csv(path: Path, shaper: RowShaper, *, delimiter: str = ",") -> Iterator[Item]:
    """Examples of a CSV file with a header row; columns holding JSON (``messages``) are parsed."""
    name = path.name
    raw = open_regular(path)
    if isinstance(raw, Problem):
        yield raw
        return
    with io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="") as text:
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next(reader, None)
        except csv.Error as err:
            yield Problem("bad_json", f"not a readable CSV header: {err}", Origin(name, 1))
            return
        if header is None:
            return
        header_problems = shaper.header_problems(header, Origin(name, 1), "header")
        if header_problems:
            yield from header_problems
            return
        start = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                yield Problem("bad_json", f"not readable as CSV: {err}", Origin(name, start))
                start = reader.line_num + 1
                continue
            origin = Origin(name, start)
            start = reader.line_num + 1
            if not any(values):
                continue
            if any(not value.isascii() for value in values):
                try:
                    "".join(values).encode("utf-8")
                except UnicodeEncodeError:
                    yield Problem("bad_utf8", "not UTF-8 text in this row", origin)
                    continue
            if len(values) != len(header):
                yield Problem(
                    "missing_column",
                    f"the row has {len(values)} fields; the header has {len(header)}",
                    origin,
                )
                continue
            row = dict(zip(header, values, strict=True))
            data = shaper.shape(row)
            problem = _parse_json_columns(data, origin)
            yield problem or Example(data, origin)


def _parse_json_columns(data: dict[str, Any], origin: Origin) -> Problem | None:
    for key in _JSON_COLUMNS:
        value = data.get(key)
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            try:
                data[key] = json.loads(value)
            except (json.JSONDecodeError, RecursionError) as err:
                problem = _json_problem(err, origin)
                return Problem(problem.kind, problem.message, origin, key)
            except ValueError:  # an integer longer than Python reads
                return _number_problem(value, origin, key)
    return None


def read_parquet(path: Path, shaper: RowShaper) -> Iterator[Item]:
    """Examples of a Parquet file, read in batches of rows."""
    import pyarrow.parquet as pq

    name = path.name
    stream = open_regular(path)
    if isinstance(stream, Problem):
        yield stream
        return
    stream.close()
    try:
        table = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types for a bad file
        yield _unreadable(path, err)
        return
    header_problems = shaper.header_problems(list(table.schema_arrow.names), Origin(name), "file")
    if header_problems:
        yield from header_problems
        return
    row = 0
    batches = table.iter_batches(batch_size=1024)
    while True:
        try:  # a damaged page is found only when its batch is read
            batch = next(batches, None)
            records = [] if batch is None else batch.to_pylist()
        except Exception as err:  # pyarrow raises OSError, ArrowInvalid, ... for bad pages
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            yield Problem(
                "unreadable", f"cannot read {name} from here on: {reason}", Origin(name, row=row)
            )
            return
        if batch is None:
            return
        for record in records:
            data = shaper.shape(record)
            origin = Origin(name, row=row)
            yield _parse_json_columns(data, origin) or Example(data, origin)
            row += 1


def read_records(records: Iterable[Any], name: str) -> Iterator[Item]:
    """Examples of Python mappings (a list, a generator, a ``datasets.Dataset``)."""
    for row, record in enumerate(records):
        origin = Origin(name, row=row)
        if isinstance(record, Mapping):
            yield Example(dict(record), origin)
        else:
            yield Problem(
                "not_an_object", f"a {type(record).__name__} where a mapping was expected", origin
            )


def read_hf(dataset: Any, shaper: RowShaper, name: str) -> Iterator[Item]:
    """Examples of a Hugging Face ``datasets.Dataset`` (rows as the library gives them)."""
    missing = shaper.missing(getattr(dataset, "column_names", None) or [])
    for column, used in missing:
        yield Problem(
            "missing_column", f"column {column!r} is not in the dataset", Origin(name), used
        )
    if missing:
        return
    for row, record in enumerate(dataset):
        origin = Origin(name, row=row)
        data = shaper.shape(record)
        yield _parse_json_columns(data, origin) or Example(data, origin)
