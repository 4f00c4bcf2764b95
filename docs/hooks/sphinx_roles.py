"""Griffe extension: ftsdk's reST-flavoured docstrings, rendered as the site's Markdown.

The docstrings use Sphinx fields (``:param x:``, ``:returns:``, ``:raises E:``, which
mkdocstrings reads as they are) and a little reST that Markdown would garble:

- roles such as ``:class:`Dataset``` or ``:meth:`~ftsdk.Job.wait``` become links to the
  API reference (optional ones: a name it does not document stays plain code, no warning);
- ``>>>`` examples become ``pycon`` code blocks (Markdown reads ``>`` as a quote);
- a paragraph ending in ``::`` before an indented block ends in ``:``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(class|meth|func|mod|attr|exc|data|obj|const):`(~?)([\w.]+)(\(\))?`")
CALLABLE_ROLES = {"meth", "func"}


def qualify(obj: griffe.Object, target: str) -> str:
    """The full path of ``target`` as named in ``obj``'s docstring (its own scope first)."""
    head, _, rest = target.lstrip(".").partition(".")
    try:
        path = obj.resolve(head)
    except (griffe.NameResolutionError, KeyError):
        return target.lstrip(".")
    return f"{path}.{rest}" if rest else path


def link_roles(obj: griffe.Object, text: str) -> str:
    """Replace each Sphinx role by an optional cross-reference."""

    def replace(match: re.Match[str]) -> str:
        role, short, target = match[1], match[2], match[3]
        title = target.rsplit(".", 1)[-1] if short else target
        if role in CALLABLE_ROLES:
            title += "()"
        return (
            f'<autoref identifier="{qualify(obj, target)}" optional><code>{title}</code></autoref>'
        )

    return ROLE.sub(replace, text)


def fence_doctests(text: str) -> str:
    """Wrap each run of ``>>>`` lines (with their ``...`` lines and output) in a fence."""
    out: list[str] = []
    in_example = False
    for line in text.splitlines():
        starts = line.lstrip().startswith(">>>")
        if starts and not in_example:
            indent = line[: len(line) - len(line.lstrip())]
            out += ["", f"{indent}```pycon"]
            in_example = True
        elif in_example and not line.strip():
            out += [f"{indent}```", ""]
            in_example = False
            continue
        out.append(line)
    if in_example:
        out.append(f"{indent}```")
    return "\n".join(out)


def literal_blocks(text: str) -> str:
    """reST's ``::`` before an indented block (which Markdown shows as code): ``Example::``
    reads ``Example:``, ``Example ::`` reads ``Example``, and a ``::`` line goes."""
    text = re.sub(r"^[ \t]*::\n(?=[ \t]*\n)", "", text, flags=re.M)
    text = re.sub(r"[ \t]+::\n(?=[ \t]*\n)", "\n", text)
    return re.sub(r"(\S)::\n(?=[ \t]*\n)", "\\1:\n", text)


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring once the package is loaded (names resolve then)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if obj.docstring is not None:
                text = literal_blocks(fence_doctests(obj.docstring.value))
                obj.docstring.value = link_roles(obj, text)


def _objects(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found += _objects(member)  # type: ignore[arg-type]
    return found
