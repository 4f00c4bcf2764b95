"""pytest fixtures for testing against the emulator. Enable them in your ``conftest.py``::

    pytest_plugins = ["ftsdk.testing.fixtures"]

then ask for ``emulator`` (a running :class:`~ftsdk_emulator.Emulator` with its clock
frozen: call ``emulator.advance(seconds)`` to move jobs along) or ``openai_client``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ftsdk.testing.emulator import Emulator

if TYPE_CHECKING:
    import openai

__all__ = ["emulator", "openai_client"]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator on a free port of 127.0.0.1, its clock frozen."""
    with Emulator(clock_speed=0) as emu:
        yield emu


@pytest.fixture
def openai_client(emulator: Emulator) -> Iterator[openai.OpenAI]:
    """The real ``openai`` client pointed at the emulator, without its own retries."""
    import openai

    with openai.OpenAI(
        base_url=emulator.openai_base_url, api_key=emulator.api_key, max_retries=0
    ) as client:
        yield client
