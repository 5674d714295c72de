# SPDX-License-Identifier: LGPL-2.1-or-later
"""The systemd units `meson install` installs pass `systemd-analyze verify`.

The build under test is installed with --destdir into a temporary directory;
the units found there must name the installed programs, their man pages must be
installed beside them, and `systemd-analyze verify` must accept each unit (the
template as an instance) with no complaint. systemd-analyze checks that
ExecStart's program exists and is executable: the copies verified here point
it at the program inside the destdir (the only change made to them).
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

UNITS = {"vscclient@.service": ("vscclient", "vscclient@docs.service"),
         "vschost-export-pcsc.service": ("vschost", "vschost-export-pcsc.service")}


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


class SystemdUnitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skip_reason = None
        build = pathlib.Path(os.environ.get("VSCARD_BUILD_DIR", ""))
        if not (build / "meson-private").is_dir():
            cls.skip_reason = "VSCARD_BUILD_DIR is not a Meson build directory"
            return
        if shutil.which("systemd-analyze") is None:
            cls.skip_reason = "systemd-analyze is not installed (systemd, tests/ci-packages.txt)"
            return
        cls.tmp = tempfile.TemporaryDirectory(prefix="vscard-units-")
        cls.dest = pathlib.Path(cls.tmp.name) / "dest"
        r = run(["meson", "install", "-C", str(build), "--no-rebuild", "--destdir",
                 str(cls.dest)])
        if r.returncode != 0:
            raise AssertionError(f"meson install failed:\n{r.stdout}{r.stderr}")
        options = {o["name"]: o["value"] for o in json.loads(
            run(["meson", "introspect", str(build), "--buildoptions"]).stdout)}
        cls.prefix = pathlib.Path(options["prefix"])
        cls.bindir = cls.prefix / options["bindir"]
        cls.mandir = cls.prefix / options["mandir"]
        cls.units = {p.name: p for p in cls.dest.rglob("*.service")}

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "tmp", None):
            cls.tmp.cleanup()

    def setUp(self):
        if self.skip_reason:
            self.skipTest(self.skip_reason)

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
