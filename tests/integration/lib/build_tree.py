# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where the build is and the programs in it: the one place integration tests ask.

    from build_tree import build_dir, program
    host = program("vschost")        # path of the built vschost, or None if not built
    probe = program("atr_probe")     # helpers built under tests/integration too

tap_runner.py --build-dir DIR (which meson test passes) sets VSCARD_BUILD_DIR;
without it, the checkout's own build/ is used.
"""
import json
import os
import pathlib
import subprocess

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]

# The folder, relative to the build dir, that Meson builds each program in.
_PROGRAM_DIRS = {
    "vschost": "vschost",
    "vscclient": "vscclient",
    "atr_probe": "tests/integration",
    "pcsc_probe": "tests/integration",
    "pcsc_hold": "tests/integration",
    "pcsc_source_probe": "tests/integration",
}


def build_dir():
    """The Meson build directory under test, as an absolute pathlib.Path (tests
    start programs in other working directories)."""
    return pathlib.Path(os.environ.get("VSCARD_BUILD_DIR") or REPO_ROOT / "build").absolute()


def program_path(name):
    """Where the build puts program `name` (whether or not it is built yet)."""
    return str(build_dir() / _PROGRAM_DIRS.get(name, ".") / name)


def program(name):
    """The path of built program `name`, or None if it is not built."""
    path = program_path(name)
    return path if os.path.isfile(path) else None


def is_meson_build():
    """True if build_dir() is a configured Meson build directory."""
    return (build_dir() / "meson-private").is_dir()


def library(name="libvscard.so"):
    """The path of a built library under the build's libvscard/ folder."""
    return build_dir() / "libvscard" / name


def build_options():
    """The build's Meson options ({name: value}, from `meson introspect`), or {} if
    build_dir() is not a Meson build directory."""
    if not is_meson_build():
        return {}
    out = subprocess.run(["meson", "introspect", str(build_dir()), "--buildoptions"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    return {o["name"]: o["value"] for o in json.loads(out)}


def is_sanitizer_build():
    """True if the build under test is instrumented (-Db_sanitize=...)."""
    return build_options().get("b_sanitize", "none") != "none"
