# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every source file names its licence with an SPDX tag, and it is the project's.

The tag (https://spdx.org/licenses/) lets packagers and license scanners
(Debian's licensecheck, lintian's copyright checks) read each file's licence
without guessing; it must agree with `license :` in the top-level meson.build,
which is what LICENSE and debian/copyright say.
"""
import pathlib
import re
import unittest

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[2]
SUFFIXES = {".cc", ".h", ".py", ".sh"}
NAMES = {"meson.build", "meson_options.txt", "run"}
# Build trees, VCS data and fuzz corpora (binary inputs) hold no sources of ours.
SKIP_DIRS = {".git", "corpus", "__pycache__"}
TAG = re.compile(r"SPDX-License-Identifier: (\S+)")


def project_license():
    text = (SOURCE_ROOT / "meson.build").read_text()
    return re.search(r"license\s*:\s*'([^']+)'", text).group(1)


def source_files():
    for path in sorted(SOURCE_ROOT.rglob("*")):
        parts = path.relative_to(SOURCE_ROOT).parts
        if any(p in SKIP_DIRS or p.startswith("build") for p in parts):
            continue
        if path.is_file() and (path.suffix in SUFFIXES or path.name in NAMES):
            yield path


class SourceHeadersTest(unittest.TestCase):
    def test_every_source_file_has_the_project_spdx_tag(self):
        wanted = project_license()
        missing, wrong = [], []
        count = 0
        for path in source_files():
            count += 1
            head = "\n".join(path.read_text(errors="replace").splitlines()[:3])
            match = TAG.search(head)
            name = str(path.relative_to(SOURCE_ROOT))
            if match is None:
                missing.append(name)
            elif match.group(1) != wanted:
                wrong.append(f"{name}: {match.group(1)}")
        self.assertGreater(count, 100, "the source walk found too few files")
        self.assertEqual(missing, [], "no SPDX-License-Identifier in the first 3 lines")
        self.assertEqual(wrong, [], f"an SPDX tag other than {wanted}")


if __name__ == "__main__":
    unittest.main()
