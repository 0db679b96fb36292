"""The base of every error the library raises on purpose.

Library code never calls `sys.exit`: it raises a subclass of `AsrError` whose message names the
file, the line or the utterance and says what to do. Only the entry points (`asr.cli.main` and
`asr.recipe.runner.recipe_main`) turn one into a message on stderr and an exit status.
Each subclass also derives from the built-in error it refines (ValueError, RuntimeError,
FileNotFoundError), so `except ValueError` keeps working.
"""

from __future__ import annotations


class AsrError(Exception):
    """An error whose message is meant for the user: printed without a traceback."""


class MissingInputError(AsrError, FileNotFoundError):
    """A stage or command needs a file that an earlier stage (or the user) has not made."""
