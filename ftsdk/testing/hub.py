"""The Hugging Face Hub emulator, from the ``ftsdk-emulator`` distribution
(:mod:`ftsdk_emulator.hub`), under the test kit's name."""

from __future__ import annotations

try:
    from ftsdk_emulator.hub import HubEmulator, HubRepo, HubRequest
except ModuleNotFoundError as err:
    if (err.name or "").partition(".")[0] != "ftsdk_emulator":
        raise
    raise ModuleNotFoundError(
        "ftsdk.testing.hub needs the ftsdk-emulator distribution, which is not installed: "
        "pip install 'ftsdk[testing]' (or pip install ftsdk-emulator)",
        name=err.name,
    ) from None

__all__ = ["HubEmulator", "HubRepo", "HubRequest"]
