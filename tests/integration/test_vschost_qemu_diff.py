# SPDX-License-Identifier: LGPL-2.1-or-later
"""Differential test: vschost --mode qemu answers every client conversation with
the same bytes as the real QEMU 7.2 ccid-card-passthru (and closes, or does not
close, the connection at the same step).

Each conversation runs against a fresh, paused QEMU and against one vschost;
the conversations are in lib/passthru_conversations.py.
"""
import sys
import threading
import unittest

from conversation import play
from passthru_conversations import all_conversations
from qemu_passthru import QemuPassthru, QemuUnavailable, qemu_binary
from vschost_proc import VschostProcess, vschost_binary


class QemuDifferentialTest(unittest.TestCase):
    host = None

    @classmethod
    def setUpClass(cls):
        if vschost_binary() is None:
            raise unittest.SkipTest("vschost is not built")
        try:
            qemu_binary()
        except QemuUnavailable as e:
            raise unittest.SkipTest(str(e))
        cls.host = VschostProcess(["--mode", "qemu"])
        cls.host.start()

    @classmethod
    def tearDownClass(cls):
        if cls.host is not None:
            cls.host.stop()

    def compare(self, conversation):
        results = {}

        def against_vschost():
            results["vschost"] = play(self.host.connect, conversation)

        # Both hosts at once: the conversations are independent and mostly wait.
        t = threading.Thread(target=against_vschost)
        t.start()
        try:
            with QemuPassthru() as qemu:
                results["qemu"] = play(qemu.connect, conversation)
        finally:
            t.join()
        q, v = results["qemu"], results["vschost"]
        if q.comparable() != v.comparable():
            self.fail(f"\n{conversation.name}: {conversation.doc}\n"
                      f"QEMU (bytes, closed per connection): {q.summary()}\n{q.render()[-3000:]}\n"
                      f"vschost: {v.summary()}\n{v.render()[-3000:]}\n"
                      f"vschost log:\n{self.host.stderr_text()[-2000:]}")
        self.assertTrue(self.host.alive(), "vschost exited")


def _make(conversation):
    def test(self):
        self.compare(conversation)
    test.__doc__ = conversation.doc or conversation.name
    return test


for _c in all_conversations():
    setattr(QemuDifferentialTest, f"test_{_c.name}", _make(_c))

if __name__ == "__main__":
    unittest.main()
