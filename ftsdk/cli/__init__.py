"""The ``ftsdk`` command line. Each command group lives in its own module."""

from __future__ import annotations

import click

from ftsdk._version import __version__
from ftsdk.cli.compare import compare
from ftsdk.cli.data import data
from ftsdk.cli.emulator import emulator
from ftsdk.cli.jobs import jobs, train
from ftsdk.cli.models import models
from ftsdk.cli.providers import providers
from ftsdk.cli.serve import serve

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
