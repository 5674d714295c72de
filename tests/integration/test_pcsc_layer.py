# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient's PC/SC layer (PcscMonitor, PcscReaderWorker) against the real
pcscd + vsmartcard vpcd + vicc, driven through tests/integration/pcsc_probe.

These check the PC/SC half of `vscclient --pcsc` on its own: reader and card
events from SCardGetStatusChange, APDUs through SCardTransmit, recovery from a
pcscd restart, sharing, and that a slow card does not hold up another reader.
"""
import os
import queue
import subprocess
import threading
import time
import unittest

from build_tree import program_path
import opensc_tool
import pcsc_env
import processes

R0 = pcsc_env.reader_name(0)
R1 = pcsc_env.reader_name(1)
VICC_ATR = "3B9513810180 73FF01000B".replace(" ", "")  # vicc iso7816 (opensc-tool -a)


class Probe:
    def __init__(self, args=(), program="pcsc_probe"):
        path = program_path(program)
        if not os.path.exists(path):
            raise unittest.SkipTest(f"{path} not built (libpcsclite-dev missing?)")
        self.proc = subprocess.Popen([path, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix, timeout=20):
        """Waits for the next line starting with `prefix`; returns its remainder."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {prefix!r} within {timeout} s; seen {self.seen[-20:]}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"probe exited before {prefix!r}; seen {self.seen[-20:]}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix):]

    def apdu(self, reader, hex_apdu):
        self.proc.stdin.write(f"apdu {hex_apdu} {reader}\n")
        self.proc.stdin.flush()

    def transmit(self, reader, hex_apdu, timeout=30):
        self.apdu(reader, hex_apdu)
        line = self.expect("", timeout)
        while not (line.startswith("response ") or line.startswith("error ")):
            line = self.expect("", timeout)
        kind, rest = line.split(" ", 1)
        name, value = rest.split("|", 1)
        return kind, name, value

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        processes.stop(self.proc)


class PcscLayerTest(unittest.TestCase):
    PROGRAM = "pcsc_probe"

    def setUp(self):
        self.env = pcsc_env.PcscEnv()
        self.addCleanup(self.env.close)
        self.env.start()

    def probe(self, *args):
        p = Probe(args, self.PROGRAM)
        self.addCleanup(p.close)
        p.expect("ready")
        return p

    def test_readers_and_card_announced_with_pcsc_names_and_real_atr(self):
        self.env.start_vicc(0)
        self.env.wait_card(0)
        p = self.probe()
        added = {p.expect("reader_added "), p.expect("reader_added ")}
        self.assertEqual(added, {R0, R1})
        self.assertEqual(p.expect("card_inserted "), f"{R0}|{VICC_ATR}")

    def test_apdus_reach_the_card_and_its_own_status_comes_back(self):
        self.env.start_vicc(0)
        p = self.probe("--pattern", R0)
        p.expect("card_inserted ")
        self.assertEqual(p.transmit(R0, "00A4000C023F00"), ("response", R0, "9000"))
        c1 = p.transmit(R0, "0084000008")
        c2 = p.transmit(R0, "0084000008")
        self.assertEqual(c1[0], "response")
        self.assertEqual(len(c1[2]), 20)
        self.assertTrue(c1[2].endswith("9000"))
        self.assertNotEqual(c1[2], c2[2])
        self.assertEqual(p.transmit(R0, "00FF000000"), ("response", R0, "6D00"))

    def test_pattern_substring_and_glob_select_one_reader(self):
        p = self.probe("--pattern", "00 01")
        self.assertEqual(p.expect("reader_added "), R1)
        p2 = self.probe("--pattern", "Virtual*00")
        self.assertEqual(p2.expect("reader_added "), R0)
        p3 = self.probe("--pattern", "no such reader")
        p3.expect("no_matching_reader")
        time.sleep(0.5)
        added = [[s for s in x.seen if s.startswith("reader_added")] for x in (p, p2, p3)]
        self.assertEqual(added, [[f"reader_added {R1}"], [f"reader_added {R0}"], []])

    def test_first_reader_only(self):
        p = self.probe("--first")
        self.assertEqual(p.expect("reader_added "), R0)
        self.env.start_vicc(1)
        self.env.wait_card(1)
        time.sleep(1)
        self.assertFalse(any(R1 in s for s in p.seen))

    def test_card_removal_and_reinsertion(self):
        self.env.start_vicc(1)
        p = self.probe("--pattern", R1)
        p.expect("card_inserted ")
        self.env.stop_card(1)
        self.assertEqual(p.expect("card_removed ", timeout=10), R1)
        kind, _, _ = p.transmit(R1, "0084000008")
        self.assertEqual(kind, "error")
        self.env.start_vicc(1)
        self.assertEqual(p.expect("card_inserted ", timeout=10), f"{R1}|{VICC_ATR}")
        kind, _, value = p.transmit(R1, "0084000008")
        self.assertEqual((kind, value[-4:]), ("response", "9000"))

    def test_pcscd_restart_is_reported_once_and_cards_come_back(self):
        self.env.start_vicc(0)
        p = self.probe("--pattern", R0)
        p.expect("card_inserted ")
        self.env.stop_pcscd()
        self.env.stop_card(0)
        self.assertEqual(p.expect("card_removed "), R0)
        p.expect("service_lost ")
        time.sleep(2)  # several reconnect attempts while pcscd is down
        self.env.start()
        self.env.start_vicc(0)
        p.expect("service_back", timeout=30)
        self.assertEqual(p.expect("card_inserted ", timeout=30), f"{R0}|{VICC_ATR}")
        self.assertEqual(sum(1 for s in p.seen if s.startswith("service_lost")), 1)
        kind, _, value = p.transmit(R0, "0084000008")
        self.assertEqual((kind, value[-4:]), ("response", "9000"))

    def test_slow_card_does_not_block_the_other_reader(self):
        self.env.start_scripted_card(0, delay=6)
        self.env.start_vicc(1)
        p = self.probe()
        p.expect("card_inserted ")
        p.expect("card_inserted ")
        p.apdu(R0, "805A0000")  # the scripted card sleeps before answering
        time.sleep(0.5)
        kind, name, value = p.transmit(R1, "0084000008")
        self.assertEqual((kind, name), ("response", R1))
        self.assertFalse(any(s.startswith(f"response {R0}") for s in p.seen),
                         "the slow card answered first: it was not really slow")
        line = p.expect(f"response {R0}|", timeout=30)
        self.assertEqual(line, "9000")

    def test_card_removed_mid_apdu_gives_an_error_not_a_hang(self):
        self.env.start_scripted_card(0, delay=30)
        p = self.probe("--pattern", R0)
        p.expect("card_inserted ")
        p.apdu(R0, "805A0000")
        time.sleep(1)
        self.env.stop_card(0)
        p.expect(f"error {R0}|", timeout=20)

    def test_large_extended_response_is_forwarded_whole(self):
        self.env.start_scripted_card(0)
        p = self.probe("--pattern", R0)
        p.expect("card_inserted ")
        # Extended Le 0xFF00: 65280 data bytes + SW (vpcd's frames carry <= 65535).
        kind, _, value = p.transmit(R0, "00B0000000FF00")
        self.assertEqual(kind, "response")
        self.assertEqual(len(value) // 2, 0xFF00 + 2)
        self.assertEqual(value[:8], "00010203")
        self.assertTrue(value.endswith("9000"))

    def test_exclusive_mode_keeps_other_applications_out(self):
        self.env.start_vicc(0)
        p = self.probe("--pattern", R0, "--exclusive")
        p.expect("card_inserted ")
        time.sleep(1)
        # opensc-tool -a reads the ATR from pcscd's reader state; -s must connect.
        results, out = self.env.send_apdus(0, ["0084000008"])
        self.assertEqual(results, [], out)
        self.assertIn("in use by another application", out)  # SCARD_E_SHARING_VIOLATION
        kind, _, value = p.transmit(R0, "0084000008")
        self.assertEqual((kind, value[-4:]), ("response", "9000"))

    def test_shared_mode_lets_other_applications_in(self):
        self.env.start_vicc(0)
        p = self.probe("--pattern", R0)
        p.expect("card_inserted ")
        kind, _, _ = p.transmit(R0, "0084000008")
        self.assertEqual(kind, "response")
        results, out = self.env.send_apdus(0, ["0084000008"])
        self.assertEqual(results[0][1], "9000", out)

    def test_reset_by_another_application_is_retried(self):
        self.env.start_vicc(0)
        p = self.probe("--pattern", R0)
        p.expect("card_inserted ")
        self.assertEqual(p.transmit(R0, "00A4000C023F00")[0], "response")
        r = subprocess.run([opensc_tool.OPENSC_TOOL, "-r", "0", "--reset", "warm"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        kind, _, value = p.transmit(R0, "0084000008")
        self.assertEqual((kind, value[-4:]), ("response", "9000"))


class PcscSourceTest(PcscLayerTest):
    """The same against vscclient::PcscSource, the CardSource `vscclient --pcsc`
    uses: events and answers through the main loop, pcscd loss logged once."""
    PROGRAM = "pcsc_source_probe"

    def test_pcscd_restart_is_reported_once_and_cards_come_back(self):
        self.env.start_vicc(0)
        p = self.probe("--pattern", R0)
        p.expect("card_inserted ")
        self.env.stop_pcscd()
        self.env.stop_card(0)
        self.assertEqual(p.expect("card_removed "), R0)
        time.sleep(2)
        self.env.start()
        self.env.start_vicc(0)
        self.assertEqual(p.expect("card_inserted ", timeout=30), f"{R0}|{VICC_ATR}")
        lost = [s for s in p.seen if "pcscd is not available" in s]
        self.assertEqual(len(lost), 1, p.seen)
        self.assertTrue(any("pcscd is back" in s for s in p.seen), p.seen)
        kind, _, value = p.transmit(R0, "0084000008")
        self.assertEqual((kind, value[-4:]), ("response", "9000"))

    def test_pattern_substring_and_glob_select_one_reader(self):
        p = self.probe("--pattern", "00 01")
        self.assertEqual(p.expect("reader_added "), R1)
        p2 = self.probe("--pattern", "Virtual*00")
        self.assertEqual(p2.expect("reader_added "), R0)
        self.probe("--pattern", "no such reader")
        time.sleep(1)
        added = [[s for s in x.seen if s.startswith("reader_added")] for x in (p, p2)]
        self.assertEqual(added, [[f"reader_added {R1}"], [f"reader_added {R0}"]])

    def test_stopping_does_not_wait_for_a_card_that_never_answers(self):
        # Issue 18: the reader's worker is blocked in SCardTransmit (the card
        # answers INS 5A after 60 s). Removing the reader, or stopping the
        # source, used to join that thread on the main loop and freeze the
        # program until the card answered or pcscd gave up.
        self.env.start_scripted_card(0, delay=60.0)
        p = self.probe("--pattern", R0)
        p.expect("card_inserted ")
        p.apdu(R0, "805A0000")
        time.sleep(1)  # the APDU is at the card
        start = time.monotonic()
        p.proc.stdin.write("quit\n")
        p.proc.stdin.flush()
        p.proc.wait(timeout=90)
        self.assertLess(time.monotonic() - start, 10.0)

    def test_apdu_to_unknown_reader_is_answered_with_an_error(self):
        p = self.probe("--pattern", R0)
        p.expect("reader_added ")
        kind, name, _ = p.transmit("no such reader", "0084000008")
        self.assertEqual((kind, name), ("error", "no such reader"))


if __name__ == "__main__":
    unittest.main()
