# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient --pin-guard against a real PC/SC stack (issue 9, PIN safety).

    lib/pin_card.py (PIN 1234, 3 tries) -> vpcd -> pcscd -> vscclient --pcsc
        --pin-guard -> this test, playing QEMU's side of VSCard

The test, as a hostile guest, sends wrong PINs. The card's own log tells which
VERIFY commands reached it, so "refused locally" is checked on the card, not
only from the answers. Also: the guard is off by default, `allow-pin` lets one
more try through, a successful VERIFY releases the guard, and the APDU trace
never shows the PIN.
"""
import os
import unittest

from build_tree import program
import pcsc_env
import vscard_peer as vp
from vscclient_env import ScriptedHost, Vscclient, host_handshake

READER = pcsc_env.reader_name(0)
WRONG = bytes.fromhex("0020008008") + b"9999" + b"\xFF" * 4
RIGHT = bytes.fromhex("0020008008") + b"1234" + b"\xFF" * 4
QUERY = bytes.fromhex("00200080")


class PinGuardTest(unittest.TestCase):
    def setUp(self):
        if program("vscclient") is None:
            self.skipTest("vscclient is not built (set VSCARD_BUILD_DIR)")
        self.env = pcsc_env.PcscEnv()  # SkipTest with the reason if it cannot run
        self.env.start()
        card = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "pin_card.py")
        self.env.start_card_program(0, ["/usr/bin/python3", card, "--port",
                                        str(pcsc_env.vpcd_port(0)), "--tries", "3"])
        self.env.wait_card(0)
        self.host = ScriptedHost()
        self.client = None

    def tearDown(self):
        if getattr(self, "peer", None):
            self.peer.close()
        if self.client:
            self.client.close()
        self.host.close()
        self.env.close()

    def start(self, *extra):
        self.client = Vscclient([f"--pcsc={READER}", "--trace", *extra], self.host.port)
        self.peer = self.host.accept(timeout=30)
        host_handshake(self.peer)

    def transmit(self, apdu):
        self.peer.send(vp.apdu(apdu, 0))
        _, _, response = self.peer.expect(vp.APDU, timeout=30)
        return response

    def verifies_at_card(self):
        return self.env.card_log_text(0).count("VERIFY ")

    def test_guard_refuses_the_last_try_locally(self):
        self.start("--pin-guard")
        self.assertEqual(self.transmit(WRONG), b"\x63\xC2")
        self.assertEqual(self.transmit(WRONG), b"\x63\xC1")  # 1 try left: guarded now
        self.assertEqual(self.verifies_at_card(), 2)
        # The guest tries again, twice: refused by vscclient, the card never sees them.
        self.assertEqual(self.transmit(WRONG), b"\x69\x83")
        self.assertEqual(self.transmit(RIGHT), b"\x69\x83")
        self.assertEqual(self.verifies_at_card(), 2)
        # Asking for the counter costs no try and is passed on.
        self.assertEqual(self.transmit(QUERY), b"\x63\xC1")
        self.assertEqual(self.verifies_at_card(), 3)
        self.assertIn("PIN guard", self.client.stderr())
        # The user allows one more try: it reaches the card (right PIN: released).
        self.client.command("allow-pin")
        self.client.wait_output("released")
        self.assertEqual(self.transmit(RIGHT), b"\x90\x00")
        self.assertEqual(self.verifies_at_card(), 4)
        self.assertEqual(self.transmit(WRONG), b"\x63\xC2")  # counter reset by the right PIN
        # The PIN never appears in the trace.
        log = self.client.stderr()
        self.assertNotIn("31 32 33 34", log)
        self.assertNotIn("39 39 39 39", log)
        self.assertIn("redacted", log)

    def test_allow_pin_lets_exactly_one_wrong_try_through(self):
        self.start("--pin-guard=1")
        self.transmit(WRONG)
        self.transmit(WRONG)
        self.assertEqual(self.transmit(WRONG), b"\x69\x83")
        self.client.command("allow-pin")
        self.client.wait_output("released")
        self.assertEqual(self.transmit(WRONG), b"\x69\x83")  # the card's own answer: blocked
        self.assertIn("VERIFY tries_left=0", self.env.card_log_text(0))
        self.assertEqual(self.verifies_at_card(), 3)
        self.assertEqual(self.transmit(WRONG), b"\x69\x83")  # guarded again, not forwarded
        self.assertEqual(self.verifies_at_card(), 3)

    def test_off_by_default(self):
        self.start()
        for expected in (b"\x63\xC2", b"\x63\xC1", b"\x69\x83"):
            self.assertEqual(self.transmit(WRONG), expected)
        self.assertEqual(self.verifies_at_card(), 3)
        self.client.command("allow-pin")
        self.client.wait_output("PIN guard is off")


if __name__ == "__main__":
    unittest.main()
