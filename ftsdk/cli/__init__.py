"""The ``ftsdk`` command line. Each command group lives in its own module; plugins add
theirs through the ``ftsdk.cli`` entry-point group (``ftsdk autotrain ...``)."""

from __future__ import annotations

import click

from ftsdk._version import __version__
from ftsdk.cli.compare import compare
from ftsdk.cli.config import config
from ftsdk.cli.data import data
from ftsdk.cli.emulator import emulator
from ftsdk.cli.jobs import jobs, train
from ftsdk.cli.models import models
from ftsdk.cli.providers import providers
from ftsdk.cli.serve import serve
from ftsdk.cli.sweep import sweep

__all__ = ["main"]


class _Main(click.Group):
    """The built-in commands, then those of installed plugins (loaded on first need; a
    plugin command never hides a built-in one)."""

    _plugins: dict[str, click.Command] | None = None

    def plugin_commands(self) -> dict[str, click.Command]:
        """Commands added by plugins, by name."""
        if self._plugins is None:
            from ftsdk.plugins import plugin_commands

            self._plugins = {
                name: command
                for name, command in plugin_commands().items()
                if name not in self.commands
            }
        return self._plugins

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *sorted(self.plugin_commands())]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        return found if found is not None else self.plugin_commands().get(cmd_name)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftsdk")
def main() -> None:
    """Fine-tune large language models through one provider-neutral API."""


main.add_command(emulator)
main.add_command(providers)
main.add_command(data)
main.add_command(train)
main.add_command(jobs)
main.add_command(models)
main.add_command(compare)
main.add_command(serve)
main.add_command(sweep)
main.add_command(config)
