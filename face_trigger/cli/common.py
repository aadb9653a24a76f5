"""What every ``face-trigger`` command shares: exit codes, the usage error, output checks."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DIFFERENT = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_MODEL = 4


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
