"""``python -m ftsdk``: the same as the ``ftsdk`` command."""

from ftsdk.cli import main

if __name__ == "__main__":
    main()
