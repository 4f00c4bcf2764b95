"""``python -m ftsdk_autotrain install-runtime``: see :mod:`ftsdk_autotrain.cli`."""

import sys

from ftsdk_autotrain.cli import main

sys.exit(main())
