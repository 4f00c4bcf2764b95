"""Test kit for ftsdk users and plugin authors (``pip install 'ftsdk[testing]'``).

- :class:`ftsdk.testing.conformance.ProviderConformance`: the suite every provider mixes
  into its tests.
- :mod:`ftsdk.testing.fixtures`: pytest fixtures (a running emulator, an ``openai`` client on
  it); :mod:`ftsdk.testing.data`: small datasets; :mod:`ftsdk.testing.local`: helpers for
  providers that train on this machine.
- :mod:`ftsdk.testing.emulator` and :mod:`ftsdk.testing.hub`: the offline emulators of
  OpenAI / Azure OpenAI and the Hugging Face Hub, re-exported from the ``ftsdk-emulator``
  distribution (:mod:`ftsdk_emulator`) that the ``testing`` extra installs.
"""

from __future__ import annotations

__all__: list[str] = []
