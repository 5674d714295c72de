# SPDX-License-Identifier: LGPL-2.1-or-later
"""Differential test: vschost --mode qemu answers every client conversation with
the same bytes as the real QEMU 7.2 ccid-card-passthru (and closes, or does not
close, the connection at the same step).

Each conversation runs against a fresh, paused QEMU and against one vschost;
the conversations are in lib/passthru_conversations.py.
"""
import threading
import unittest

from build_tree import program
from conversation import DEFAULT_QUIET, FINAL_QUIET, play
from passthru_conversations import all_conversations
from qemu_passthru import QemuPassthru, QemuUnavailable, qemu_binary
from vschost_proc import VschostProcess

# Quiet-window multipliers, tried in turn until the transcripts agree.
SLOWDOWNS = (1, 4, 12)


class QemuDifferentialTest(unittest.TestCase):
    host = None

    @classmethod
    def setUpClass(cls):
        if program("vschost") is None:
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

    def play_both(self, conversation, slowdown):
        results = {}
        quiet, final_quiet = DEFAULT_QUIET * slowdown, FINAL_QUIET * slowdown

        def against_vschost():
            results["vschost"] = play(self.host.connect, conversation, quiet, final_quiet)

        # Both hosts at once: the conversations are independent and mostly wait.
        t = threading.Thread(target=against_vschost)
        t.start()
        try:
            with QemuPassthru() as qemu:
                results["qemu"] = play(qemu.connect, conversation, quiet, final_quiet)
        finally:
            t.join()
        return results["qemu"], results["vschost"]

    def compare(self, conversation):
        # The transcripts hold what each host sent before it went quiet for a
        # moment. On a loaded machine a host (QEMU above all: its main loop
        # shares the CPU with its vCPU thread) can stay silent past that moment
        # and send the rest after the connection is gone, so a difference is
        # played again with longer quiet windows; a real difference stays.
        for slowdown in SLOWDOWNS:
            q, v = self.play_both(conversation, slowdown)
            if q.comparable() == v.comparable():
                break
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
