"""``python -m diarefine``: the same as the ``diarefine`` command."""

from diarefine.cli import main

main()
