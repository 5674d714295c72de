# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Debian source package (debian/) builds, is lintian-clean and works.

A copy of the source tree is built with `dpkg-buildpackage -b -us -uc`
(DEB_BUILD_OPTIONS=nocheck parallel=2: the project's tests run here, not in the
package build); lintian must report no error; the three packages are unpacked
with `dpkg -x` into a fresh root (the machine's own packages are not touched)
and hold what each promises; then the README demo (tests/demo/soft_card_demo.py)
runs against the unpacked vscclient and vschost, with the unpacked libvscard.

The package build does not depend on the build under test, so it runs once per
CI run: it is skipped in a sanitizer build.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import unittest

from build_tree import is_sanitizer_build
from class_setup import PreparedOnce

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("libvscard0", "libvscard-dev", "vscard")


def run(cmd, **kwargs):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          **kwargs)


def copy_source(dest):
    """The source tree without build directories, VCS data or caches."""
    top_level_skip = re.compile(r"^(build.*|_build.*|\.git)$")

    def ignore(directory, names):
        skip = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
        if pathlib.Path(directory) == SOURCE_ROOT:
            skip |= {n for n in names if top_level_skip.match(n)}
        return skip
    shutil.copytree(SOURCE_ROOT, dest, ignore=ignore, symlinks=True)


class PackagingTest(PreparedOnce, unittest.TestCase):
    tmp_prefix = "vscard-deb-"

    @classmethod
    def prepare(cls):
        if is_sanitizer_build():
            cls.skip("the package build does not depend on the build under test; it runs "
                     "in the plain build only")
        cls.require_tools("dpkg-buildpackage", "dh", "lintian", "dpkg-deb",
                          packages="dpkg-dev, debhelper, lintian: tests/ci-packages.txt")
        work = cls.make_tmp()
        copy_source(work / "vscard")
        env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2")
        started = time.monotonic()
        cls.build = run(["dpkg-buildpackage", "-b", "-us", "-uc"], cwd=work / "vscard",
                        env=env, timeout=3000)
        # Reported in the TAP output: CI time is budgeted.
        print(f"# dpkg-buildpackage took {time.monotonic() - started:.0f} s", flush=True)
        cls.debs = {p.name.split("_")[0]: p for p in work.glob("*.deb")}
        cls.changes = next(work.glob("*.changes"), None)
        cls.root = work / "root"
        for name in PACKAGES:
            if name in cls.debs:
                run(["dpkg-deb", "-x", str(cls.debs[name]), str(cls.root)], check=True)
        cls.libdir = next(cls.root.glob("usr/lib/*/libvscard.so.0"), pathlib.Path()).parent

    def setUp(self):
        super().setUp()
        self.assertEqual(self.build.returncode, 0,
                         f"dpkg-buildpackage failed:\n{self.build.stdout[-6000:]}")

    def contents(self, name):
        listing = run(["dpkg-deb", "-c", str(self.debs[name])], check=True).stdout
        return {line.split()[5].lstrip(".") for line in listing.splitlines()}

    def test_packages_built(self):
        for name in PACKAGES:
            self.assertIn(name, self.debs)

    def test_lintian_reports_no_error(self):
        r = run(["lintian", "--fail-on", "error", str(self.changes)], timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertNotRegex(r.stdout, r"(?m)^E: ")

    def test_each_package_holds_its_part(self):
        lib = self.contents("libvscard0")
        self.assertTrue(any(re.search(r"/libvscard\.so\.0$", p) for p in lib), lib)
        self.assertFalse(any(p.startswith("/usr/include") for p in lib))
        dev = self.contents("libvscard-dev")
        for wanted in ("/usr/include/vscard/decoder.h", "/libvscard.so",
                       "/pkgconfig/libvscard.pc"):
            self.assertTrue(any(p.endswith(wanted) for p in dev), wanted)
        tools = self.contents("vscard")
        for wanted in ("/usr/bin/vscclient", "/usr/bin/vschost",
                       "/usr/share/man/man1/vscclient.1.gz", "/usr/share/man/man1/vschost.1.gz",
                       "/lib/systemd/system/vscclient@.service",
                       "/lib/systemd/system/vschost-export-pcsc.service",
                       "/usr/share/doc/vscard/copyright", "/usr/share/doc/vscard/libvirt.md",
                       "/usr/share/doc/vscard/examples/libvirt-smartcard.xml"):
            self.assertIn(wanted, tools)
        self.assertNotIn("/usr/share/doc/vscard/LICENSE", tools)

    def test_units_cite_files_the_package_installs(self):
        for unit in (self.root / "lib/systemd/system").glob("*.service"):
            text = unit.read_text()
            for path in re.findall(r"file:(\S+)", text) + re.findall(r"(?m)^ExecStart=(\S+)",
                                                                     text):
                self.assertTrue((self.root / path.lstrip("/")).exists(), f"{unit.name}: {path}")

    def test_demo_runs_against_the_installed_programs(self):
        env = dict(os.environ, LD_LIBRARY_PATH=str(self.libdir))
        bindir = self.root / "usr/bin"
        ldd = run(["ldd", str(bindir / "vscclient")], env=env).stdout
        self.assertIn(f"{self.libdir}/libvscard.so.0", ldd)
        r = run([sys.executable, str(SOURCE_ROOT / "tests/demo/soft_card_demo.py"),
                 "--bindir", str(bindir)], env=env, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("demo passed", r.stdout)


if __name__ == "__main__":
    unittest.main()
