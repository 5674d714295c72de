# SPDX-License-Identifier: LGPL-2.1-or-later
"""The command blocks the docs mark as runnable work as written.

README.md and docs/*.md mark a ```sh block that a reader can paste and run with
the line `<!-- doc-test: run -->` just above it. Each such block runs here,
unchanged except for the port (2001 in the docs, a free port here), under
`bash -e -o pipefail` in a scratch directory where `docs/` is the source
tree's, with the build's vscclient and vschost first on PATH and stdin
/dev/null. It must end on its own, with status 0. Scripts and files the docs
name (`*.vsc`) must exist.
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import unittest
from build_tree import program
from ports import free_port

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[2]
MARKER = "<!-- doc-test: run -->"
# The blocks the docs mark today: fewer means a marker was lost.
MIN_BLOCKS = 3


def docs():
    return [SOURCE_ROOT / "README.md", *sorted((SOURCE_ROOT / "docs").glob("*.md"))]


def runnable_blocks():
    """[(where, text)] of the marked ```sh blocks."""
    blocks = []
    pattern = re.compile(re.escape(MARKER) + r"\n```sh\n(.*?)^```", re.S | re.M)
    for doc in docs():
        text = doc.read_text()
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((f"{doc.relative_to(SOURCE_ROOT)}:{line}", match.group(1)))
    return blocks


class DocCommandsTest(unittest.TestCase):
    def test_marked_blocks_are_found(self):
        text = "".join(d.read_text() for d in docs())
        self.assertEqual(len(runnable_blocks()), text.count(MARKER),
                         f"a {MARKER} line not followed by a ```sh block")
        self.assertGreaterEqual(len(runnable_blocks()), MIN_BLOCKS)

    def test_named_scripts_exist(self):
        missing = []
        for doc in docs():
            for name in re.findall(r"[\w./-]+\.vsc\b", doc.read_text()):
                if not any((base / name).is_file() for base in (SOURCE_ROOT, doc.parent)):
                    missing.append(f"{doc.relative_to(SOURCE_ROOT)}: {name}")
        self.assertEqual(missing, [])

    def test_marked_blocks_run(self):
        programs = [program("vscclient"), program("vschost")]
        if None in programs:
            self.skipTest("vscclient or vschost is not built")
        for tool in ("certutil", "bash"):
            if shutil.which(tool) is None:
                self.skipTest(f"{tool} is not installed (tests/ci-packages.txt)")
        failures = []
        for where, block in runnable_blocks():
            with tempfile.TemporaryDirectory(prefix="vscard-doccmd-") as tmp:
                (pathlib.Path(tmp) / "docs").symlink_to(SOURCE_ROOT / "docs")
                env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"),
                           PATH=os.pathsep.join([str(pathlib.Path(p).parent.resolve()) for p in programs] +
                                                [os.environ.get("PATH", "")]))
                env.pop("G_MESSAGES_DEBUG", None)
                script = re.sub(r"\b2001\b", str(free_port()), block)
                # Its own process group: a block that hangs is ended whole,
                # background commands included.
                proc = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", script], cwd=tmp,
                                        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True)
                try:
                    out, err = proc.communicate(timeout=240)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.communicate()
                    failures.append(f"{where}: did not end within 240 s:\n{block}")
                    continue
                finally:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)   # leftovers of a failed block
                    except ProcessLookupError:
                        pass
                r = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
                if r.returncode != 0:
                    failures.append(f"{where}: exit {r.returncode}:\n{block}\nstdout:\n"
                                    f"{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}")
                    continue
                for report in re.findall(r"--report junit:(\S+)", block):
                    if "<testsuite" not in (pathlib.Path(tmp) / report).read_text():
                        failures.append(f"{where}: {report} is not a JUnit report")
        self.assertEqual(failures, [], "\n\n".join(failures))


if __name__ == "__main__":
    unittest.main()
