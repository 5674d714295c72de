# SPDX-License-Identifier: LGPL-2.1-or-later
"""End to end with a real QEMU guest, part 3: modern cards behind both USB
controllers, through vscclient's DEFAULT options (issue 13).

QEMU 7.2's usb-ccid announces only T=0 and mishandles some response sizes
(vscard/qemu_reader.h; docs/qemu.md has the measurements); vscclient's T=0
presentation and response shaping (docs/t0-presentation.md) are on by default.
One boot per controller, several readers in it (guest_runner's `readers`,
one usb-ccid + ccid-card-passthru each, one vscclient each):

- vicc's iso7816 card (ATR 3B 95 13 81 01 80 73 FF 01 00 0B, T=1 only) behind
  the host's real pcscd + vpcd, through `vscclient --pcsc` (xHCI), or with no
  pcscd on its way, straight into `vscclient --vicc` (UHCI; docs/vicc.md): the guest's OpenSC
  selects the MF, gets two different challenges, creates a record file, writes
  the test's random bytes into it (APPEND RECORD, a case-3 command) and reads
  them back (READ RECORD);
- a scripted card (lib/vpcd_card.py, T=1 only) whose answers have the sizes
  QEMU loses without shaping: 52, 116 and 372 data bytes (responses of 54, 118
  and 374 bytes) and 600 and 4000 (the card chains them with 61xx, as T=1 cards
  do): the guest receives every byte;
- behind qemu-xhci, also `vscclient --soft-card`: OpenSC lists its three
  certificates and a signature made in the guest verifies on the host.
"""
import os
import re
import subprocess
import time
import unittest

import guest_runner
from guest_testing import GET_CHALLENGE, GUEST_TIMEOUT
from vscclient_guest import VscclientGuestCase
import processes

# vicc's card as the guest sees it: T=0 presented, interface bytes dropped,
# historical bytes kept (docs/t0-presentation.md).
VICC_PRESENTED_ATR = "3b:05:80:73:ff:01:00"
# The scripted card: TD1 = 01 (T=1 only), historical bytes "VC", TCK.
SCRIPTED_ATR = "3B82015643" + "96"
SCRIPTED_PRESENTED_ATR = "3b:02:56:43"
# (command, data bytes the card answers with): READ BINARY with a short Le,
# then GET DATA whose answer the card chains with 61xx (lib/vpcd_card.py).
SIZED_READS = [("00B0000034", 52), ("00B0000074", 116), ("00CA017400", 372),
               ("00CA025800", 600), ("00CA0FA000", 4000)]


def pattern(n):
    return "".join(f"{i & 0xFF:02X}" for i in range(n))


class ControllerTest(VscclientGuestCase):
    """vicc, the scripted card and (xHCI) the soft card, one boot per controller."""

    def vicc_apdus(self):
        self.record = os.urandom(8).hex().upper()
        return ["00A4000C023F00",                      # SELECT MF, no FCI
                GET_CHALLENGE, GET_CHALLENGE,
                "00E0000008620682010483021235",        # CREATE FILE: a record EF
                "00E2000008" + self.record,            # APPEND RECORD (case 3)
                "00B2010408"]                          # READ RECORD 1

    def assert_vicc_used(self, result, step):
        answers = guest_runner.parse_apdu_output(result.step(step).output)
        self.assertEqual([sw for _, sw in answers], ["9000"] * 6, result.console)
        self.assertEqual([len(answers[1][0]), len(answers[2][0])], [16, 16])
        self.assertNotEqual(answers[1][0], answers[2][0], "two challenges were the same")
        self.assertEqual(answers[5][0], self.record, "the record read back differs")

    def assert_sizes_received(self, result, step):
        answers = guest_runner.parse_apdu_output(result.step(step).output)
        self.assertEqual(len(answers), len(SIZED_READS) + 1, result.console)
        for (command, n), (data, sw) in zip(SIZED_READS, answers):
            with self.subTest(command=command, data_bytes=n):
                self.assertEqual(sw, "9000")
                self.assertEqual(len(data) // 2, n)
                self.assertEqual(data, pattern(n))
        self.assertEqual(answers[-1][1], "9000")  # still in step after them
        self.assertEqual(len(answers[-1][0]), 16)

    def start_cards(self, vicc_direct):
        env, pcsc_env = self.host_pcsc()
        if not vicc_direct:
            env.start_vicc(0)
            env.wait_card(0)
        env.start_scripted_card(1, atr=SCRIPTED_ATR)
        env.wait_card(1)
        return pcsc_env

    def vicc_through_vicc_source(self, pcsc_env, host_port):
        """vscclient --vicc (a free port, named in its log) and Debian's vicc
        connecting to it: no pcscd between them."""
        client = self.vscclient("--vicc=0", "127.0.0.1", str(host_port))
        deadline = time.monotonic() + 30
        while not (m := re.search(r"vicc: waiting for cards on \S+ \(vicc -H \S+ -P (\d+)\)",
                                  client.output())):
            self.assertLess(time.monotonic(), deadline, client.output())
            time.sleep(0.05)
        log = open(os.path.join(self.tmp, "vicc.log"), "wb")
        vicc = subprocess.Popen(pcsc_env.vicc_argv(int(m.group(1))), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=pcsc_env.vicc_env(self.tmp))
        self.addCleanup(log.close)
        self.addCleanup(processes.stop, vicc)

    def run_controller(self, controller, soft_card, vicc_direct=False):
        pcsc_env = self.start_cards(vicc_direct)
        # Reader order in the guest follows QEMU's device order (USB ports).
        first = 1 if soft_card else 0
        vicc, sized = first, first + 1
        steps = [f"atr@{vicc}", f"atr@{sized}", f"apdu@{vicc}", f"apdu@{sized}"]
        if soft_card:
            # First, alone: pkcs11-tool uses the first slot with a token (reader
            # 0), and OpenSC's PKCS#11 module probes every card present with
            # each of its drivers, which under TCG takes minutes for two cards
            # it does not know.
            steps = ["info@0", "objects", "sign"] + steps
        params = {f"apdus_{vicc}": ",".join(self.vicc_apdus()),
                  f"apdus_{sized}": ",".join([c for c, _ in SIZED_READS] + [GET_CHALLENGE])}
        vm = self.boot(steps, controller=controller, readers=sized + 1, pin="77777777",
                       **params)
        if soft_card:
            self.vscclient("--soft-card", "127.0.0.1", str(vm.ports[0]))
            vm.wait_for(r"^@@VSCARD-END sign ", GUEST_TIMEOUT)
        if vicc_direct:
            self.vicc_through_vicc_source(pcsc_env, vm.ports[vicc])
        else:
            self.vscclient(f"--pcsc={pcsc_env.reader_name(0)}", "127.0.0.1", str(vm.ports[vicc]))
        self.vscclient(f"--pcsc={pcsc_env.reader_name(1)}", "127.0.0.1", str(vm.ports[sized]))
        result = self.finish(vm)
        logs = "\n".join(c.output() for c in self.clients)
        self.assertEqual(result.step(f"atr@{vicc}").output.strip(), VICC_PRESENTED_ATR,
                         result.console + logs)
        self.assertEqual(result.step(f"atr@{sized}").output.strip(), SCRIPTED_PRESENTED_ATR)
        self.assert_vicc_used(result, f"apdu@{vicc}")
        self.assert_sizes_received(result, f"apdu@{sized}")
        if soft_card:
            self.assert_soft_card_used(result, info_step="info@0")
        self.assertEqual(result.status, "ok", result.console + logs)

    def test_uhci_t1_cards_and_every_response_size(self):
        self.run_controller("uhci", soft_card=False, vicc_direct=True)

    def test_xhci_t1_cards_every_response_size_and_soft_card(self):
        self.run_controller("xhci", soft_card=True)


if __name__ == "__main__":
    unittest.main()
