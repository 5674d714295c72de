# SPDX-License-Identifier: LGPL-2.1-or-later
"""The systemd units `meson install` installs pass `systemd-analyze verify`.

The build under test is installed with --destdir into a temporary directory;
the units found there must name the installed programs, their man pages must be
installed beside them, and `systemd-analyze verify` must accept each unit (the
template as an instance) with no complaint. systemd-analyze checks that
ExecStart's program exists and is executable: the copies verified here point
it at the program inside the destdir (the only change made to them).
"""
import os
import pathlib
import re
import subprocess
import unittest

from build_tree import build_dir, build_options
from class_setup import PreparedOnce

UNITS = {"vscclient@.service": ("vscclient", "vscclient@docs.service"),
         "vschost-export-pcsc.service": ("vschost", "vschost-export-pcsc.service")}


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


class SystemdUnitsTest(PreparedOnce, unittest.TestCase):
    tmp_prefix = "vscard-units-"

    @classmethod
    def prepare(cls):
        cls.require_meson_build()
        cls.require_tools("systemd-analyze", packages="systemd, tests/ci-packages.txt")
        cls.dest = cls.make_tmp() / "dest"
        r = run(["meson", "install", "-C", str(build_dir()), "--no-rebuild", "--destdir",
                 str(cls.dest)])
        if r.returncode != 0:
            raise AssertionError(f"meson install failed:\n{r.stdout}{r.stderr}")
        options = build_options()
        cls.prefix = pathlib.Path(options["prefix"])
        cls.bindir = cls.prefix / options["bindir"]
        cls.mandir = cls.prefix / options["mandir"]
        cls.units = {p.name: p for p in cls.dest.rglob("*.service")}


    def in_dest(self, path):
        return self.dest / pathlib.Path(path).relative_to("/")

    def test_units_installed_in_systemd_unit_directory(self):
        self.assertEqual(sorted(self.units), sorted(UNITS))
        for path in self.units.values():
            self.assertRegex(str(path.parent), r"/lib/systemd/system$")

    def test_units_name_installed_programs_and_man_pages(self):
        for name, (program, _) in UNITS.items():
            text = self.units[name].read_text()
            exec_start = re.search(r"(?m)^ExecStart=(\S+)", text).group(1)
            self.assertEqual(exec_start, str(self.bindir / program))
            self.assertTrue(os.access(self.in_dest(exec_start), os.X_OK), exec_start)
            self.assertIn(f"man:{program}(1)", text)
            self.assertTrue(self.in_dest(self.mandir / "man1" / f"{program}.1").is_file())
            for doc in re.findall(r"file:(\S+)", text):
                self.assertTrue(self.in_dest(doc).is_file(), doc)

    def test_systemd_analyze_verify(self):
        check = pathlib.Path(self.tmp.name) / "verify"
        check.mkdir(exist_ok=True)
        paths = []
        for name, (program, instance) in UNITS.items():
            text = self.units[name].read_text().replace(
                f"ExecStart={self.bindir / program}",
                f"ExecStart={self.in_dest(self.bindir / program)}")
            (check / name).write_text(text)
            paths.append(str(check / instance))
        # --man=no: the man pages are checked above, in the destdir; man(1)
        # would look for them in the system's MANPATH.
        r = run(["systemd-analyze", "verify", "--man=no", *paths])
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))


if __name__ == "__main__":
    unittest.main()
