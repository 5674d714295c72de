# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every libvirt XML the documentation shows is valid for libvirt.

docs/examples/*.xml are whole domains; ```xml blocks in README.md and
docs/*.md are whole domains or fragments of <devices> (wrapped in a minimal
q35 domain here). Each is checked with libvirt's own `virt-xml-validate`
(Debian package libvirt-clients; its schemas come with libvirt0), which fails
on anything libvirt would refuse to define: unknown elements or attributes,
wrong values, and malformed XML such as "--" inside a comment.
"""
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[2]

# A fragment goes inside <devices> of this domain.
WRAPPER = """<domain type='kvm'>
  <name>doc-fragment</name>
  <memory unit='MiB'>1024</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
{fragment}
  </devices>
</domain>
"""


def doc_xml_blocks():
    """[(where, xml)] for every ```xml block of README.md and docs/*.md."""
    blocks = []
    for doc in [SOURCE_ROOT / "README.md", *sorted((SOURCE_ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        for match in re.finditer(r"^```xml\n(.*?)^```", text, re.S | re.M):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((f"{doc.relative_to(SOURCE_ROOT)}:{line}", match.group(1)))
    return blocks


class DocXmlTest(unittest.TestCase):
    def setUp(self):
        if shutil.which("virt-xml-validate") is None:
            self.skipTest("virt-xml-validate is not installed (libvirt-clients, "
                          "tests/ci-packages.txt)")
        self.tmp = tempfile.TemporaryDirectory(prefix="vscard-docxml-")
        self.addCleanup(self.tmp.cleanup)

    @staticmethod
    def invalid(where, path):
        """None if libvirt accepts the file, else what virt-xml-validate said."""
        r = subprocess.run(["virt-xml-validate", str(path), "domain"], capture_output=True,
                           text=True, timeout=60)
        return None if r.returncode == 0 else f"{where}: {r.stdout}{r.stderr}"

    def test_examples_are_valid_domains(self):
        examples = sorted((SOURCE_ROOT / "docs" / "examples").glob("*.xml"))
        self.assertTrue(examples, "no XML in docs/examples")
        problems = [self.invalid(str(p.relative_to(SOURCE_ROOT)), p) for p in examples]
        self.assertEqual([p for p in problems if p], [])

    def test_examples_use_the_default_q35_usb_controller(self):
        # A default q35 guest already has libvirt's qemu-xhci controller at
        # index 0: an example that adds another USB controller clashes with it.
        for path in sorted((SOURCE_ROOT / "docs" / "examples").glob("*.xml")):
            text = path.read_text()
            self.assertIn("machine='q35'", text, path.name)
            self.assertNotRegex(text, r"<controller\s+type='usb'", path.name)
            self.assertIn("<controller type='ccid'", text, path.name)

    def test_xml_blocks_in_docs_are_valid(self):
        blocks = doc_xml_blocks()
        self.assertTrue(blocks, "no ```xml block in the docs")
        problems = []
        for i, (where, xml) in enumerate(blocks):
            if not xml.lstrip().startswith("<domain"):
                xml = WRAPPER.format(fragment=xml)
            path = pathlib.Path(self.tmp.name) / f"block{i}.xml"
            path.write_text(xml)
            problems.append(self.invalid(where, path))
        self.assertEqual([p for p in problems if p], [])


if __name__ == "__main__":
    unittest.main()
