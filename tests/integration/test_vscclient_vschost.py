# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient --soft-card against the project's own host, `vschost --mode qemu
--script`: the reader is added, the ATR accepted, a script selects the three CAC
PKI applets, reads their certificate objects and has each key sign; the test then
checks with openssl that every signature verifies with its certificate's key and
that the certificates are the soft card's (lib/soft_card_run.py; the README demo
runs the same session).
"""
import os
import shutil
import tempfile
import unittest

from build_tree import build_dir, program_path
import openssl_check
from soft_card_run import SoftCardRun

SUBJECTS = ["CN=vscard soft card ID,OU=soft-card,O=vscard",
            "CN=vscard soft card signature,OU=soft-card,O=vscard",
            "CN=vscard soft card encryption,OU=soft-card,O=vscard"]


def setUpModule():
    for binary in (program_path("vscclient"), program_path("vschost")):
        if not os.path.exists(binary):
            raise unittest.SkipTest(f"{binary} is not built")
    if not openssl_check.available() or shutil.which("certutil") is None:
        raise unittest.SkipTest("needs openssl and certutil (packages openssl, libnss3-tools)")


class VschostScriptTest(unittest.TestCase):
    def test_soft_card_through_vschost_script(self):
        with tempfile.TemporaryDirectory(prefix="vscclient-vschost-") as tmp:
            run = SoftCardRun(build_dir(), tmp)
            expected = run.ensure_database()
            r = run.run()
        self.assertEqual(r.host_status, 0, r.host_stderr[-3000:] + r.client_stderr[-2000:])
        self.assertEqual(r.readers, ["Virtual Reader"])
        self.assertTrue(r.card and r.card["accepted"], r.card)
        self.assertIn("T=0", r.card["protocols"])
        self.assertTrue(r.summary["ok"], r.summary)
        self.assertEqual(len(r.applets), 3)
        self.assertEqual(r.certificates, expected)
        checks = SoftCardRun.verify(r)
        self.assertEqual([s for s, _ in checks], SUBJECTS)
        self.assertEqual([ok for _, ok in checks], [True, True, True], "signatures verify")


if __name__ == "__main__":
    unittest.main()
