"""What every ``face-trigger`` command shares: exit codes, the usage error, output checks."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from face_trigger.errors import EXIT_ERROR, EXIT_INPUT, EXIT_MODEL, EXIT_USAGE

EXIT_OK = 0
EXIT_DIFFERENT = 1
__all__ = ["EXIT_OK", "EXIT_ERROR", "EXIT_DIFFERENT", "EXIT_USAGE", "EXIT_INPUT", "EXIT_MODEL",
           "UsageError", "CommandError", "check_output", "DB_HELP"]


class UsageError(Exception):
    """Bad arguments found after parsing (exit 2)."""


class CommandError(Exception):
    """The command cannot do what was asked, for a reason its message gives (exit 1)."""


def check_output(path: Optional[str]) -> None:
    """Refuse at start, as a usage error, an output whose folder does not exist or cannot
    be written (not after the work, and not as an unreadable input)."""
    if not path:
        return
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write {path}: folder {folder} is not writable")


DB_HELP = ("an SQLite file (or sqlite:///path) or postgresql://user@host/db "
           "(needs face_trigger[postgres])")
