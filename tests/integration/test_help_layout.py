# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient and vschost share one --help layout, one --version shape and one
usage-error shape (issue 16), and each man page lists the options --help lists.

The layout (program_common/help_text.h): "Usage: PROG ..." lines, a summary,
then sections, each a blank line, "Heading:" and lines indented by two; option
and command descriptions start at column 25 (on the next line when the left
part is too long); nothing wider than 79 columns; both programs end with the
sections Logging, Information, Commands on standard input ... Exit status.
"""
import os
import pathlib
import re
import subprocess
import unittest
from build_tree import program

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[2]
PROGRAMS = {"vscclient": 4, "vschost": 2}  # and their usage-error status
COLUMN = 25
WIDTH = 79
COMMON_TAIL = ["Logging", "Information", "Commands on standard input"]
ITEM = re.compile(r"^  (?:-(\w), )?--([a-z0-9][a-z0-9-]*)")


def run(path, *args):
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env=dict(os.environ, LC_ALL="C.UTF-8"))


def sections(text):
    """[(heading, [lines])] after the usage and summary block."""
    blocks = text.rstrip("\n").split("\n\n")
    result = []
    for block in blocks[1:]:
        lines = block.split("\n")
        result.append((lines[0], lines[1:]))
    return blocks[0].split("\n"), result


def help_options(text):
    """{long option: short option or None} of the option items of --help."""
    found = {}
    for line in text.splitlines():
        m = ITEM.match(line)
        if m:
            found[m.group(2)] = m.group(1)
    return found


def man_options(page):
    """{long option: short option or None} of the items (.TP) of OPTIONS."""
    body = page.split("\n.SH OPTIONS", 1)[1].split("\n.SH ", 1)[0]
    found = {}
    lines = body.split("\n")
    for i, line in enumerate(lines[:-1]):
        if line != ".TP":
            continue
        item = re.sub(r"\\f[BIRP]", "", lines[i + 1]).replace("\\-", "-")
        long_names = re.findall(r"--([a-z0-9][a-z0-9-]*)", item)
        if not long_names:
            continue
        short = re.search(r"(?<![-\w])-(\w)\b", item)
        found[long_names[0]] = short.group(1) if short else None
    return found


class HelpLayoutTest(unittest.TestCase):
    def setUp(self):
        self.paths = {name: program(name) for name in PROGRAMS}
        missing = [name for name, path in self.paths.items() if path is None]
        if missing:
            self.skipTest(f"not built: {', '.join(missing)}")

    def test_help_layout(self):
        headings = {}
        for name, path in self.paths.items():
            r = run(path, "--help")
            self.assertEqual(r.returncode, 0, name)
            self.assertEqual(r.stderr, "", name)
            head, body = sections(r.stdout)
            self.assertTrue(head[0].startswith(f"Usage: {name} "), head)
            usage = [line for line in head if line.startswith(("Usage: ", "       "))]
            for line in usage[1:]:
                self.assertTrue(line.startswith(f"       {name} "), line)
            self.assertGreater(len(head), len(usage), f"{name}: no summary")
            for line in r.stdout.splitlines():
                self.assertLessEqual(len(line), WIDTH, f"{name}: {line!r}")
            for heading, lines in body:
                self.assertRegex(heading, r"^[A-Z][^ ].*:$", name)
                self.assertTrue(lines, f"{name}: empty section {heading}")
                for line in lines:
                    self.assertTrue(line.startswith("  ") and line[2] != " " or
                                    line.startswith(" " * COLUMN) and line[COLUMN] != " ",
                                    f"{name}: {heading} {line!r}")
                    if not line.startswith(" " * COLUMN) and len(line) > COLUMN:
                        # An item with its description on the same line.
                        if re.match(r"^  \S.*? {2,}\S", line):
                            start = len(line) - len(line[2:].split("  ", 1)[1].lstrip())
                            self.assertEqual(start, COLUMN, f"{name}: {line!r}")
            headings[name] = [heading[:-1] for heading, _ in body]
            self.assertEqual(headings[name][-1], "Exit status", name)
            positions = [headings[name].index(h) for h in COMMON_TAIL]
            self.assertEqual(positions, sorted(positions), (name, headings[name]))
            self.assertEqual(positions[1], positions[0] + 1, (name, headings[name]))
            information = dict(body)["Information:"]
            self.assertEqual([ITEM.match(line).group(2) for line in information],
                             ["version", "help"], name)

    def test_version_shape(self):
        for name, path in self.paths.items():
            r = run(path, "--version")
            self.assertEqual(r.returncode, 0, name)
            self.assertRegex(r.stdout, rf"^{name} \d+\.\d+\.\d+\n$")

    def test_usage_error_shape(self):
        for name, path in self.paths.items():
            for args in (["--no-such-option"], ["--version=1"]):
                r = run(path, *args)
                self.assertEqual(r.returncode, PROGRAMS[name], (name, args))
                self.assertEqual(r.stdout, "")
                self.assertRegex(r.stderr, rf"^{name}: error: .*{args[0].split('=')[0]}.*\n"
                                           rf"Try '{name} --help' for more information\.\n$")

    def test_each_option_has_one_line(self):
        # An option no section names goes under "Other options" alone, not the
        # whole list again.
        for name, path in self.paths.items():
            items = [m.group(2) for m in map(ITEM.match, run(path, "--help").stdout.splitlines())
                     if m]
            repeated = sorted({item for item in items if items.count(item) > 1})
            self.assertEqual(repeated, [], name)

    def test_man_page_lists_the_options_of_help(self):
        for name, path in self.paths.items():
            listed = help_options(run(path, "--help").stdout)
            page = (SOURCE_ROOT / "docs" / f"{name}.1").read_text()
            self.assertEqual(man_options(page), listed, name)


if __name__ == "__main__":
    unittest.main()
