"""``python -m face_trigger`` runs the command line."""
import sys

from .cli import main

sys.exit(main())
