# SPDX-License-Identifier: LGPL-2.1-or-later
"""Errors and subprocess helper shared by the guest builder's modules."""
import subprocess


class BuildError(Exception):
    """The guest can't be built here; the message says what is missing."""


def run(argv, **kw):
    """stdout of argv; BuildError with its stderr if it fails or is missing."""
    try:
        return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout
    except FileNotFoundError as e:
        raise BuildError(f"{argv[0]} not found: {e}") from e
    except subprocess.CalledProcessError as e:
        raise BuildError(f"{' '.join(argv)} failed: {e.stderr.strip()}") from e
