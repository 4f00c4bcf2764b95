"""MkDocs hook: a name in a table (inline code without a space, such as
``--gradient-checkpointing`` or ``FTSDK_DISABLE_PLUGINS``) gets the class ``name``, which
``docs/stylesheets/extra.css`` keeps on one line: a narrow column wraps between words,
never in the middle of a name. Code with spaces (an example value) wraps as text does.
"""

from __future__ import annotations

import re
from typing import Any

TABLE = re.compile(r"<table>.*?</table>", re.S)
NAME = re.compile(r"<code>([^<\s]+)</code>")


def on_page_content(html: str, **kwargs: Any) -> str:
    """Mark every space-free inline code inside a table as a name."""
    return TABLE.sub(lambda table: NAME.sub(r'<code class="name">\1</code>', table[0]), html)
