"""``python -m ftsdk_autotrain install-runtime``: see :mod:`ftsdk_autotrain.cli`."""

from ftsdk_autotrain.cli import autotrain

autotrain(prog_name="python -m ftsdk_autotrain")
