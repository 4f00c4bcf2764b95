"""A stateful offline emulator of OpenAI's and Azure OpenAI's fine-tuning services, with
Azure's Entra ID and Resource Manager (:class:`Emulator`), and of the Hugging Face Hub
(:mod:`ftsdk_emulator.hub`).

The ``ftsdk-emulator`` distribution, installed by ``pip install 'ftsdk[testing]'``;
``ftsdk.testing.emulator`` re-exports these names.
"""

from __future__ import annotations

from ftsdk_emulator.faults import Fault, Faults
from ftsdk_emulator.server import Emulator
from ftsdk_emulator.state import EmulatorConfig, RequestRecord

__all__ = ["Emulator", "EmulatorConfig", "Fault", "Faults", "RequestRecord"]
