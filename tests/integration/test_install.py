# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvscard installs as a library another project can build against.

`meson install --destdir` of the build under test into a temporary directory,
then: the public headers are under include/vscard/, libvscard.pc is there and
names the project's version, the shared library has its soname and the usual
symlinks, and a tiny separate Meson project finds it with
`dependency('libvscard')` through PKG_CONFIG_PATH, builds, and round-trips one
message through the installed library at run time.
"""
import json
import os
import pathlib
import re
import subprocess
import textwrap
import unittest

from build_tree import build_dir, build_options
from class_setup import PreparedOnce

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[2]

CONSUMER_MESON = """\
project('libvscard-consumer', 'cpp', default_options : ['cpp_std=c++20'])
executable('consumer', 'main.cc', dependencies : dependency('libvscard'))
"""

# Encodes an Init and an APDU, decodes them back, checks a public helper from
# another module (atr.h), and prints what it saw.
CONSUMER_MAIN = r"""
#include <cstdio>
#include <variant>
#include <vector>

#include <vscard/apdu.h>
#include <vscard/atr.h>
#include <vscard/decoder.h>
#include <vscard/message.h>

int main() {
  const std::vector<std::uint8_t> apdu{0x00, 0xA4, 0x04, 0x00};
  std::vector<std::uint8_t> wire;
  if (!vscard::encode({vscard::kUndefinedReaderId, vscard::Init{}}, wire)) return 2;
  if (!vscard::encode({0, vscard::Apdu{apdu}}, wire)) return 2;

  vscard::Decoder decoder;
  vscard::Bytes input(wire);
  vscard::Decoded first = decoder.next(input);
  vscard::Decoded second = decoder.next(input);
  if (first.status != vscard::DecodeStatus::Message ||
      !std::holds_alternative<vscard::Init>(first.message.body)) return 3;
  if (second.status != vscard::DecodeStatus::Message) return 4;
  const auto* got = std::get_if<vscard::Apdu>(&second.message.body);
  if (!got || vscard::to_hex(got->data) != "00A40400") return 5;

  const std::vector<std::uint8_t> atr{0x3B, 0x95, 0x13, 0x81, 0x01, 0x80,
                                      0x73, 0xFF, 0x01, 0x00, 0x0B};
  if (!vscard::qemu_accepts_atr(atr)) return 6;
  std::printf("round trip ok: %s\n", vscard::to_hex(wire).c_str());
  return 0;
}
"""


def run(cmd, env=None, cwd=None):
    """Runs cmd; on failure the assertion message carries its output."""
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n"
                             f"{proc.stdout}")
    return proc.stdout


class InstallTest(PreparedOnce, unittest.TestCase):
    tmp_prefix = "vscard-install-"

    @classmethod
    def prepare(cls):
        cls.build_dir = build_dir()
        cls.require_meson_build()
        cls.require_tools("meson", "ninja", "pkg-config", "readelf")
        cls.destdir = cls.make_tmp() / "dest"
        options = build_options()
        # A sanitizer build's libvscard needs the sanitizer runtimes loaded first,
        # so the consumer is built with the same -Db_sanitize (as a user of such a
        # build would have to).
        cls.consumer_options = []
        if options.get("b_sanitize", "none") != "none":
            cls.consumer_options = [f"-Db_sanitize={options['b_sanitize']}",
                                    f"-Db_lundef={str(options.get('b_lundef', True)).lower()}"]
        cls.version = json.loads(
            run(["meson", "introspect", str(cls.build_dir), "--projectinfo"]))["version"]
        prefix = pathlib.Path(options["prefix"])
        # libdir/includedir are relative to prefix unless given absolute.
        cls.prefix = cls.destdir / prefix.relative_to("/")
        cls.libdir = cls.destdir / (prefix / options["libdir"]).relative_to("/")
        cls.includedir = cls.destdir / (prefix / options["includedir"]).relative_to("/")
        # --no-rebuild: `meson test` has just built everything; the test installs
        # exactly what is being tested.
        cls.install_log = run(["meson", "install", "-C", str(cls.build_dir), "--no-rebuild",
                               "--destdir", str(cls.destdir)])


    def test_headers_installed_under_include_vscard(self):
        wanted = sorted(p.name for p in (SOURCE_ROOT / "libvscard/include/vscard").glob("*.h"))
        self.assertIn("decoder.h", wanted)
        got = sorted(p.name for p in (self.includedir / "vscard").glob("*.h"))
        self.assertEqual(got, wanted)

    def test_pkg_config_file(self):
        pc = self.libdir / "pkgconfig" / "libvscard.pc"
        self.assertTrue(pc.is_file(), f"{pc} missing; install log:\n{self.install_log}")
        text = pc.read_text()
        self.assertRegex(text, rf"(?m)^Version: {re.escape(self.version)}$")
        self.assertRegex(text, r"(?m)^Libs: .*-lvscard")
        # The installed file must be usable as is by pkg-config.
        env = dict(os.environ, PKG_CONFIG_PATH=str(pc.parent))
        self.assertEqual(run(["pkg-config", "--modversion", "libvscard"], env=env).strip(),
                         self.version)

    def test_shared_library_soname_and_symlinks(self):
        real = self.libdir / f"libvscard.so.{self.version}"
        self.assertTrue(real.is_file() and not real.is_symlink(), f"{real} missing")
        dynamic = run(["readelf", "-d", str(real)])
        match = re.search(r"\(SONAME\)\s+Library soname: \[(.+?)\]", dynamic)
        self.assertIsNotNone(match, dynamic)
        soname = match.group(1)
        self.assertRegex(soname, r"^libvscard\.so\.\d+$")
        # libvscard.so.N -> the real file (what the loader opens by soname);
        # libvscard.so -> it (what the linker opens for -lvscard).
        so_n = self.libdir / soname
        self.assertTrue(so_n.is_symlink(), f"{so_n} is not a symlink")
        self.assertEqual(so_n.resolve(), real.resolve())
        dev = self.libdir / "libvscard.so"
        self.assertTrue(dev.is_symlink(), f"{dev} is not a symlink")
        self.assertEqual(dev.resolve(), real.resolve())

    def test_consumer_project_builds_and_runs(self):
        work = pathlib.Path(self.tmp.name) / "consumer"
        work.mkdir()
        (work / "meson.build").write_text(CONSUMER_MESON)
        (work / "main.cc").write_text(textwrap.dedent(CONSUMER_MAIN))
        # The installed .pc names the final prefix (/usr/local...), which only
        # exists under the destdir here: give the consumer a copy that points there.
        pc_dir = pathlib.Path(self.tmp.name) / "pkgconfig"
        pc_dir.mkdir()
        pc_text = (self.libdir / "pkgconfig" / "libvscard.pc").read_text()
        pc_text = re.sub(r"(?m)^prefix=.*$", f"prefix={self.prefix}", pc_text, count=1)
        (pc_dir / "libvscard.pc").write_text(pc_text)

        env = dict(os.environ, PKG_CONFIG_PATH=str(pc_dir))
        env.pop("PKG_CONFIG_LIBDIR", None)
        run(["meson", "setup", *self.consumer_options, str(work / "build"), str(work)], env=env)
        run(["ninja", "-C", str(work / "build"), "-j2"], env=env)

        exe = work / "build" / "consumer"
        run_env = dict(os.environ, LD_LIBRARY_PATH=str(self.libdir))
        # The binary must load the installed copy, not the build tree's.
        ldd = run(["ldd", str(exe)], env=run_env)
        line = next((l for l in ldd.splitlines() if "libvscard" in l), "")
        self.assertIn(str(self.libdir), line, ldd)
        out = run([str(exe)], env=run_env)
        self.assertIn("round trip ok: 00000001FFFFFFFF0000000C5653434400000002", out)


if __name__ == "__main__":
    unittest.main()
