# SPDX-License-Identifier: LGPL-2.1-or-later
"""vschost --mode qemu warns client authors about what QEMU's usb-ccid would
mishandle (issue 13): an ATR that offers no T=0, a response of exactly 54 bytes
(a 64-byte CCID message, which xHCI never releases) and a response over 374
bytes. Each gets a "qemu_limit" event in --report json and a log line on
stderr; --mode multi (not a stand-in for QEMU) stays silent. The client is
lib/vscard_peer.py answering READ BINARY with as many bytes as P1P2 says."""
import json
import os
import re
import tempfile
import threading
import unittest

from build_tree import program
from vscard_peer import Peer
from vschost_proc import VschostProcess

T0_ATR = bytes.fromhex("3B021450")
SIZES = [54, 55, 118, 374, 375, 600]  # response bytes, data + SW


def sized_card(reader, apdu):
    n = apdu[2] << 8 | apdu[3]
    return bytes(i & 0xFF for i in range(n - 2)) + b"\x90\x00"


SCRIPT = "timeout 10s\nwait-card\n" + "".join(
    f"send 00 B0 {n >> 8:02X} {n & 0xFF:02X} 00 expect 9000\n" for n in SIZES)


class QemuLimitWarningsTest(unittest.TestCase):
    def setUp(self):
        if program("vschost") is None:
            self.skipTest("vschost is not built")
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def run_host(self, mode, atr, script=SCRIPT):
        path = os.path.join(self.tmp.name, "sizes.vsc")
        with open(path, "w") as f:
            f.write(script)
        host = VschostProcess(["--once", "--script", path, "--timeout", "60", "--report", "json",
                               "--mode", mode])
        self.addCleanup(host.stop)
        host.start()

        def client():
            with Peer.connect("127.0.0.1", host.port) as p:
                p.handshake(reader_name=b"Reader \x1b[31m", card_atr=atr)
                p.serve_card(sized_card, timeout=30)
        t = threading.Thread(target=client)
        t.start()
        status = host.wait(60)
        t.join(30)
        out, err = host.stdout_text(), host.stderr_text()
        self.assertEqual(status, 0, out + err)
        return [json.loads(line) for line in out.splitlines()], err

    def test_qemu_mode_warns_for_each_mishandled_response_and_t1_only_atr(self):
        events, err = self.run_host("qemu", bytes.fromhex("3B951381018073FF01000B"))
        warnings = [e for e in events if e["event"] == "qemu_limit"]
        self.assertEqual([(w["kind"], w["size"]) for w in warnings],
                         [("atr_without_t0", 11), ("response_full_packet", 54),
                          ("response_too_long", 375), ("response_too_long", 600)], warnings)
        for w in warnings:
            self.assertEqual((w["client"], w["reader"]), (1, 0))
        self.assertIn("3B951381018073FF01000B", warnings[0]["message"])
        # Each warning follows the event it is about, in the same stream.
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds[kinds.index("qemu_limit") - 1], "card_inserted")
        logged = re.findall(r"client 1 reader 0: QEMU would mishandle this \((\w+)\)", err)
        self.assertEqual(logged, ["atr_without_t0", "response_full_packet",
                                  "response_too_long", "response_too_long"], err)
        # The reader's name (peer bytes, with an escape sequence) never reaches stderr raw.
        self.assertNotIn("\x1b", err)

    def test_qemu_mode_is_silent_for_a_t0_card_with_good_sizes(self):
        events, err = self.run_host("qemu", T0_ATR, "timeout 10s\nwait-card\n"
                                    "send 00 B0 00 37 00 expect 9000\n"    # 55 bytes
                                    "send 00 B0 01 76 00 expect 9000\n")   # 374 bytes
        self.assertEqual([e for e in events if e["event"] == "qemu_limit"], [])
        self.assertNotIn("QEMU would mishandle", err)

    def test_multi_mode_does_not_warn(self):
        events, err = self.run_host("multi", bytes.fromhex("3B951381018073FF01000B"))
        self.assertEqual([e for e in events if e["event"] == "qemu_limit"], [])
        self.assertNotIn("QEMU would mishandle", err)


if __name__ == "__main__":
    unittest.main()
