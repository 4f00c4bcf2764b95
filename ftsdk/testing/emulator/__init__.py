"""A stateful offline emulator of OpenAI's and Azure OpenAI's fine-tuning services.

Needs the ``testing`` extra: ``pip install 'ftsdk[testing]'``.
"""

from __future__ import annotations

from ftsdk.testing.emulator.faults import Fault, Faults
from ftsdk.testing.emulator.server import Emulator
from ftsdk.testing.emulator.state import EmulatorConfig, RequestRecord

__all__ = ["Emulator", "EmulatorConfig", "Fault", "Faults", "RequestRecord"]
