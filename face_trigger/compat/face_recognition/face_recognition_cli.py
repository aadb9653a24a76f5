"""face_recognition's ``face_recognition_cli`` module: the helper its examples import.

    from face_trigger.compat.face_recognition.face_recognition_cli import image_files_in_folder

The command itself is ``face-trigger identify`` (it accepts the peer's flags; docs/cli.md).
"""
from __future__ import annotations

import os
import re
from typing import List

__all__ = ["image_files_in_folder"]


def image_files_in_folder(folder: str) -> List[str]:
    """The paths of the .jpg, .jpeg and .png files directly in ``folder`` (any case), in
    directory order, as face_recognition lists them."""
    return [os.path.join(folder, name) for name in os.listdir(folder)
            if re.match(r".*\.(jpg|jpeg|png)", name, flags=re.I)]
