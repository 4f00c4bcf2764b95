"""MkDocs hook: the CLI reference, generated from the click commands at every build.

``docs/reference/cli.md`` holds the line ``<!-- ftsdk-cli-reference -->``; this hook
replaces it with a section for ``ftsdk`` and for every command and group under it, walked
recursively (hidden ones left out): its help, its usage line, its options as ``--help``
shows them, and its subcommands. A new command appears on the site with no edit to the docs.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Iterator
from typing import Any

import click

MARKER = "<!-- ftsdk-cli-reference -->"
PAGE = "reference/cli.md"


def on_page_markdown(markdown: str, *, page: Any, **kwargs: Any) -> str:
    """Fill the CLI reference page; every other page is left as it is."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"{PAGE} lost its {MARKER} line: the CLI reference has nowhere to go")
    from ftsdk.cli import main

    return markdown.replace(MARKER, render(main, "ftsdk"))


def walk(
    command: click.Command, name: str, parent: click.Context | None = None
) -> Iterator[click.Context]:
    """A context for ``command`` and, depth first in listed order, for each visible
    subcommand; ``ctx.command_path`` is the full command line (``ftsdk data check``)."""
    ctx = click.Context(command, info_name=name, parent=parent, **command.context_settings)
    yield ctx
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, sub_name, ctx)


def anchor(ctx: click.Context) -> str:
    """The section id of a command: ``ftsdk-data-check``."""
    return ctx.command_path.replace(" ", "-")


def _cell(text: str) -> str:
    # Table cells: keep help text literal, and a `|` (as in `[chat|text]`) inside its cell.
    return html.escape(text, quote=False).replace("|", "&#124;").replace("\n", " ")


def _help(command: click.Command) -> str:
    text = inspect.cleandoc(command.help or command.short_help or "")
    text = text.split("\f", 1)[0]  # click's convention: what follows \f is not for users
    return "\n".join(line for line in text.splitlines() if line.strip() != "\b")


def section(ctx: click.Context) -> str:
    """The Markdown section of one command."""
    command = ctx.command
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    lines = [f"## `{ctx.command_path}` {{#{anchor(ctx)}}}", ""]
    if command.deprecated:
        lines += ["!!! warning", "    Deprecated.", ""]
    if help_text := _help(command):
        lines += [html.escape(help_text, quote=False), ""]
    lines += ["```text", usage, "```", ""]
    options = [
        record
        for param in command.get_params(ctx)
        if isinstance(param, click.Option) and not param.hidden
        if (record := param.get_help_record(ctx)) is not None
    ]
    if options:
        lines += ["| option | description |", "|---|---|"]
        lines += [f"| `{names}` | {_cell(text)} |" for names, text in options]
        lines.append("")
    if isinstance(command, click.Group):
        subcommands = [
            (name, sub)
            for name in command.list_commands(ctx)
            if (sub := command.get_command(ctx, name)) is not None and not sub.hidden
        ]
        lines += ["| command | what it does |", "|---|---|"]
        for name, sub in subcommands:
            target = f"{anchor(ctx)}-{name}"
            summary = sub.get_short_help_str(limit=200)
            lines.append(f"| [`{ctx.command_path} {name}`](#{target}) | {_cell(summary)} |")
        lines.append("")
    return "\n".join(lines)


def render(command: click.Command, name: str) -> str:
    """The whole reference: one section per command, ``name`` first."""
    return "\n".join(section(ctx) for ctx in walk(command, name))
