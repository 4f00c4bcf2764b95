"""Test kit for ftsdk users and plugin authors.

- :class:`ftsdk.testing.conformance.ProviderConformance`: the declaration half of the
  conformance kit (what a provider class declares), run offline.
- :class:`ftsdk.testing.behaviour.ProviderBehaviour`: the behaviour half (what a provider
  does against its service), driven by a :class:`~ftsdk.testing.behaviour.Harness` the
  plugin supplies.
"""

from __future__ import annotations

__all__: list[str] = []
