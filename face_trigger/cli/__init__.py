"""The ``face-trigger`` command line (also ``python -m face_trigger``).

Data goes to stdout, messages to stderr, one line per problem (a traceback only with
``-v``). Exit codes:

* 0 success (``verify``: same person);
* 1 ``verify``: different people; any other failure not listed below;
* 2 usage error (bad options or arguments, invalid configuration);
* 3 an input could not be read (the other inputs are still processed);
* 4 a model problem (missing, corrupted or tampered file, wrong key, wrong embedder).

Each command is a module (``detect.py``, ``identify.py``, ...) with ``register`` and
``run``; ``main.py`` lists them; ``common.py`` holds the shared flags and input handling.
"""
from .main import main
from .common import (EXIT_DIFFERENT, EXIT_ERROR, EXIT_INPUT, EXIT_MODEL, EXIT_OK, EXIT_USAGE,
                     UsageError)

__all__ = ["main", "UsageError", "EXIT_OK", "EXIT_ERROR", "EXIT_DIFFERENT", "EXIT_USAGE",
           "EXIT_INPUT", "EXIT_MODEL"]
