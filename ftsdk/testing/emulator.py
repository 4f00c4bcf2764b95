"""The offline emulator of OpenAI and Azure OpenAI, from the ``ftsdk-emulator`` distribution
(:mod:`ftsdk_emulator`), under the name the test kit has always given it::

    from ftsdk.testing.emulator import Emulator

Installed by ``pip install 'ftsdk[testing]'``; kept out of ``ftsdk`` itself so that
applications do not ship a web server they only use in tests.
"""

from __future__ import annotations

try:
    from ftsdk_emulator import Emulator, EmulatorConfig, Fault, Faults, RequestRecord
except ModuleNotFoundError as err:
    if (err.name or "").partition(".")[0] != "ftsdk_emulator":
        raise  # the emulator is there but something it imports is not: say that
    raise ModuleNotFoundError(
        "ftsdk.testing.emulator needs the ftsdk-emulator distribution, which is not "
        "installed: pip install 'ftsdk[testing]' (or pip install ftsdk-emulator)",
        name=err.name,
    ) from None

__all__ = ["Emulator", "EmulatorConfig", "Fault", "Faults", "RequestRecord"]
