# SPDX-License-Identifier: LGPL-2.1-or-later
"""One expensive preparation per test class (an install, a package build), shared by
its test methods.

    class InstallTest(PreparedOnce, unittest.TestCase):
        tmp_prefix = "vscard-install-"

        @classmethod
        def prepare(cls):
            cls.require_meson_build()
            cls.require_tools("meson", "pkg-config")
            cls.dest = cls.make_tmp() / "dest"
            ...

A reason to skip found in prepare() (cls.skip(reason), or one of the require_*
helpers) skips every test method one by one: unittest's own class-level skip
would report one pseudo-test instead, which breaks the TAP plan tap_runner.py
prints. The temporary directory is removed after the last test method.
"""
import pathlib
import shutil
import tempfile

import build_tree


class SkipClass(Exception):
    """Raised in prepare() to skip every test of the class with this reason."""


class PreparedOnce:
    tmp_prefix = "vscard-"

    @classmethod
    def prepare(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.skip_reason = None
        cls.tmp = None
        try:
            cls.prepare()
        except SkipClass as e:
            cls.skip_reason = str(e)

    @classmethod
    def tearDownClass(cls):
        if cls.tmp is not None:
            cls.tmp.cleanup()

    def setUp(self):
        if self.skip_reason:
            self.skipTest(self.skip_reason)

    @classmethod
    def skip(cls, reason):
        raise SkipClass(reason)

    @classmethod
    def make_tmp(cls):
        """A temporary directory removed after the class's last test."""
        cls.tmp = tempfile.TemporaryDirectory(prefix=cls.tmp_prefix)
        return pathlib.Path(cls.tmp.name)

    @classmethod
    def require_meson_build(cls):
        if not build_tree.is_meson_build():
            cls.skip(f"{build_tree.build_dir()} is not a Meson build directory "
                     "(VSCARD_BUILD_DIR)")

    @classmethod
    def require_tools(cls, *tools, packages="tests/ci-packages.txt"):
        for tool in tools:
            if shutil.which(tool) is None:
                cls.skip(f"{tool} is not installed ({packages})")
