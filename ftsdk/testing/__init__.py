"""Test kit for ftsdk users and plugin authors.

- :class:`ftsdk.testing.conformance.ProviderConformance`: the suite every provider mixes
  into its tests.
"""

from __future__ import annotations

__all__: list[str] = []
