"""Command-line options that more than one command module declares (``detect`` in cli.py, ``watch`` in live/).

Here, not in cli.py: live/commands.py importing cli.py would be a circular import under ``python -m dsodetect.cli``.
"""

from __future__ import annotations

from typing import Annotated

import typer

FlattenOpt = Annotated[bool, typer.Option("--flatten", help=(
    "Subtract the sky's gradient (light pollution, moon) from linear stacks (FITS, 16-bit TIFF) before "
    "detection: a quadratic surface fitted to the faint sky. For light-polluted skies; it costs a little on "
    "dark ones (docs/architecture.md)."))]
