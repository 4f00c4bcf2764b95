"""Test kit for ftsdk users and plugin authors (``pip install 'ftsdk[testing]'``).

- :class:`ftsdk.testing.conformance.ProviderConformance`: the declaration half of the
  conformance kit (what a provider class declares), run offline.
- :class:`ftsdk.testing.behaviour.ProviderBehaviour`: the behaviour half (what a provider
  does against its service), driven by a :class:`~ftsdk.testing.behaviour.Harness` the
  plugin supplies.
- :mod:`ftsdk.testing.fixtures`: pytest fixtures (a running emulator, an ``openai`` client on
  it); :mod:`ftsdk.testing.data`: small datasets; :mod:`ftsdk.testing.local`: helpers for
  providers that train on this machine.
- :mod:`ftsdk.testing.emulator` and :mod:`ftsdk.testing.hub`: the offline emulators of
  OpenAI / Azure OpenAI and the Hugging Face Hub, re-exported from the ``ftsdk-emulator``
  distribution (:mod:`ftsdk_emulator`) that the ``testing`` extra installs.
"""

from __future__ import annotations

__all__: list[str] = []
