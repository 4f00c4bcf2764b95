"""``{{ item.* }}`` and ``{{ sample.* }}`` templates, filled in as OpenAI's graders fill them.

A template names a namespace and a JSON-path-like variable: ``{{ item.answer }}``,
``{{ item.ground_truth.date }}``, ``{{ item.choices[0] }}``, ``{{ sample.output_text }}``.
``item`` is the dataset row; ``sample`` is the model's answer: ``output_text`` (the text),
``output_json`` (the text parsed as JSON, when it is JSON), ``output_tools`` and ``choices``
(as Chat Completions shapes them).

A string value is put in as it is; any other value as JSON (``{"a": 1}``, ``[1, 2]``,
``true``), numbers as Python writes them. The service's own way of writing non-string values
is not published: strings are exact, the rest best effort.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ftsdk.errors import InvalidRequest

__all__ = ["Sample", "TemplateError", "as_text", "lookup", "path", "references", "render"]

# {{ namespace.path }}: braces with anything but braces between them.
_TEMPLATE: Final = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# One step of a path: .name, ["name"] / ['name'], or [index].
_STEP: Final = re.compile(r"""\.([^.\[\]]+)|\[\s*(?:"([^"]*)"|'([^']*)'|(-?\d+))\s*\]""")
NAMESPACES: Final = ("item", "sample")


class TemplateError(InvalidRequest):
    """A template names something that is not there: a field the item lacks, a namespace
    other than ``item`` / ``sample``, or ``sample.output_json`` of an answer that is not JSON.

    :attr:`field` is the variable as written in the template (``item.answer``); :attr:`kind`
    is the service's error flag it corresponds to (``invalid_variable_error`` or
    ``sample_parse_error``).
    """

    def __init__(self, message: str, *, field: str, kind: str = "invalid_variable_error") -> None:
        super().__init__(message, field=field)
        self.kind = kind


@dataclass(frozen=True)
class Sample:
    """The ``sample`` namespace built from a model's answer.

    >>> Sample.from_text('{"city": "Paris"}').namespace()["output_json"]
    {'city': 'Paris'}
    """

    output_text: str
    output_json: Any = None
    is_json: bool = False
    output_tools: list[Any] = field(default_factory=list)

    @classmethod
    def from_text(cls, text: str) -> Sample:
        """The sample for an answer; ``output_json`` is filled when the text is JSON."""
        try:
            parsed, is_json = json.loads(text), True
        except ValueError:
            parsed, is_json = None, False
        return cls(output_text=text, output_json=parsed, is_json=is_json)

    def namespace(self) -> dict[str, Any]:
        """The variables a template (or a Python grader's ``sample``) sees."""
        values: dict[str, Any] = {
            "output_text": self.output_text,
            "output_tools": list(self.output_tools),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": self.output_text},
                }
            ],
        }
        if self.is_json:
            values["output_json"] = self.output_json
        return values


def references(text: str) -> list[str]:
    """The variables a string's templates name, in order, as written (spaces trimmed).

    >>> references("Answer: {{ sample.output_text }} vs {{item.answer}}")
    ['sample.output_text', 'item.answer']
    """
    return [m.group(1) for m in _TEMPLATE.finditer(text)]


def path(variable: str) -> tuple[str, list[str | int]]:
    """Split ``item.a["b"][0]`` into its namespace and steps; a malformed path is an error."""
    head = re.match(r"[^.\[\]]+", variable)
    if head is None:
        raise TemplateError(f"{{{{ {variable} }}}}: not a variable", field=variable)
    steps: list[str | int] = []
    at = head.end()
    while at < len(variable):
        step = _STEP.match(variable, at)
        if step is None:
            raise TemplateError(
                f"{{{{ {variable} }}}}: cannot read the path at {variable[at:]!r}", field=variable
            )
        name, dq, sq, index = step.groups()
        steps.append(int(index) if index is not None else next(s for s in (name, dq, sq) if s))
        at = step.end()
    return head.group(0), steps


def lookup(variable: str, item: Mapping[str, Any], sample: Sample) -> Any:
    """The value a variable names; :class:`TemplateError` naming it when it is not there."""
    namespace, steps = path(variable)
    if namespace not in NAMESPACES:
        raise TemplateError(
            f"{{{{ {variable} }}}}: unknown namespace {namespace!r}; templates read 'item' "
            "(the dataset row) or 'sample' (the model's answer)",
            field=variable,
        )
    if namespace == "sample" and steps[:1] == ["output_json"] and not sample.is_json:
        raise TemplateError(
            f"{{{{ {variable} }}}}: the model's answer is not JSON, so it has no output_json",
            field=variable,
            kind="sample_parse_error",
        )
    value: Any = dict(item) if namespace == "item" else sample.namespace()
    walked = namespace
    for step in steps:
        found = (
            isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value)
        ) or (isinstance(step, str) and isinstance(value, Mapping) and step in value)
        if found:
            value = value[step]
        else:
            what = f"index {step}" if isinstance(step, int) else f"field {step!r}"
            fields = (
                f" (it has: {', '.join(map(str, value))})" if isinstance(value, Mapping) else ""
            )
            raise TemplateError(
                f"{{{{ {variable} }}}}: {walked} has no {what}{fields}", field=variable
            )
        walked += f"[{step}]" if isinstance(step, int) else f".{step}"
    return value


def as_text(value: Any) -> str:
    """How a value is written into a template: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def render(text: str, item: Mapping[str, Any], sample: Sample) -> str:
    """``text`` with every template filled in; :class:`TemplateError` for the first one
    that names something missing.

    >>> render("{{ item.city }} = {{sample.output_text}}", {"city": "Paris"},
    ...        Sample.from_text("Paris"))
    'Paris = Paris'
    >>> render("{{ item.town }}", {"city": "Paris"}, Sample.from_text("Paris"))
    Traceback (most recent call last):
    ...
    ftsdk.graders.templates.TemplateError: {{ item.town }}: item has no field 'town' (it has: city)
    """
    return _TEMPLATE.sub(lambda m: as_text(lookup(m.group(1), item, sample)), text)
