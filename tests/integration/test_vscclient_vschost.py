# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient --soft-card against the project's own host, `vschost --mode qemu
--script`: the reader is added, the ATR accepted, a script selects the three CAC
PKI applets, reads their certificate objects and has each key sign; the test then
checks with openssl that every signature verifies with its certificate's key and
that the certificates are the soft card's (lib/soft_card_run.py; the README demo
runs the same session).

One vscclient against several short `vschost --once` sessions in a row (a CI
running many): after each session the reconnect delay is the initial one again
(issue 18; it used to double from session to session up to the 30 s cap).
"""
import os
import re
import shutil
import tempfile
import time
import unittest

from build_tree import build_dir, program_path
import openssl_check
from ports import free_port
from soft_card_run import SoftCardRun
from vscclient_env import Vscclient
from vschost_proc import VschostProcess

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


# vscclient's backoff (libvscard's Backoff defaults): 0.5 s, doubling, ±20 %.
INITIAL_DELAY_MAX = 0.6
SECOND_DELAY_MAX = 1.2
# vscclient -v: the delay chosen after a lost session, and after a refused
# attempt (the first refusal of a streak says "next in", later ones "retrying in").
RECONNECTING = re.compile(r"ended: .*; reconnecting in ([0-9.]+) s")
REFUSED = re.compile(r"cannot connect to .*(?:retrying in|next in) ([0-9.]+) s")


class ShortSessionsTest(unittest.TestCase):
    SESSIONS = 4

    def test_each_short_session_resets_the_reconnect_delay(self):
        port = free_port()  # every vschost --once listens here in turn
        with tempfile.TemporaryDirectory(prefix="vscclient-short-") as tmp:
            script = os.path.join(tmp, "one-apdu.vsc")
            with open(script, "w") as f:
                f.write("wait-card timeout=30s\n")
                f.write("send 00A4040007A0000000790100 expect 61XX\n")  # CAC PKI applet
            with Vscclient(["-v", "--soft-card"], port) as client:
                # No host yet: vscclient is refused and waits between attempts.
                self.wait_for(client, REFUSED, 1)
                for session in range(self.SESSIONS):
                    with VschostProcess(["--once", "--script", script],
                                        listen=[f"127.0.0.1:{port}"]) as host:
                        self.assertEqual(host.wait(60), 0, host.stderr_text())
                    # The session is over and no host listens: the end of the
                    # session and the refused attempt after it say their delays.
                    self.wait_for(client, REFUSED, session + 2)
                    log = client.stderr()
                    context = "\n".join(line for line in log.splitlines() if "connect" in line)
                    reconnecting = [float(d) for d in RECONNECTING.findall(log)]
                    refused = [float(d) for d in REFUSED.findall(log)]
                    # After the session: the initial delay, then one step up
                    # from there -- not from where earlier sessions left it.
                    self.assertEqual(len(reconnecting), session + 1, context)
                    self.assertLessEqual(reconnecting[-1], INITIAL_DELAY_MAX, context)
                    self.assertLessEqual(refused[-1], SECOND_DELAY_MAX, context)

    def wait_for(self, client, pattern, count, timeout=60):
        deadline = time.monotonic() + timeout
        while len(pattern.findall(client.stderr())) < count:
            if time.monotonic() > deadline or client.proc.poll() is not None:
                self.fail(f"{count} lines like {pattern.pattern!r} expected; vscclient said:\n"
                          + client.stderr()[-4000:])
            time.sleep(0.05)

if __name__ == "__main__":
    unittest.main()
