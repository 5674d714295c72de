# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real PC/SC stack the PC/SC tests stand on: our pcscd, vpcd and vicc.

If these fail, every vscclient --pcsc and vschost --export-pcsc test would fail
for a reason outside this project; this module says so directly.
"""
import time
import unittest

import opensc_tool
import pcsc_env


class PcscStackTest(unittest.TestCase):
    def setUp(self):
        self.env = pcsc_env.PcscEnv()
        self.addCleanup(self.env.close)
        self.env.start()

    def test_vpcd_readers_listed_without_cards(self):
        names = {name: present for _, name, present in self.env.readers()}
        self.assertEqual(names, {pcsc_env.reader_name(0): False, pcsc_env.reader_name(1): False})

    def test_vpcd_listens_only_on_our_ports_outside_the_ephemeral_range(self):
        # Our reader configuration alone (not /etc/reader.conf.d as well, whose
        # vpcd would listen on 35963), on ports no outgoing connection can take.
        ports = sorted(pcsc_env.listening_ports(self.env.pcscd.pid))
        self.assertEqual(ports, [pcsc_env.vpcd_port(0), pcsc_env.vpcd_port(1)])
        low, high = pcsc_env.ephemeral_port_range()
        if pcsc_env.choose_vpcd_base_port((low, high)) == pcsc_env.DEBIAN_VPCD_PORT \
                and low <= pcsc_env.DEBIAN_VPCD_PORT <= high:
            self.skipTest(f"SKIPPED: the ephemeral range {low}-{high} leaves none of "
                          f"{pcsc_env.VPCD_PORT_CANDIDATES} outside it")
        self.assertTrue(all(p < low or p > high for p in ports), (ports, low, high))

    def test_vicc_iso7816_card_answers(self):
        self.env.start_vicc(0)
        self.env.wait_card(0)
        results, out = self.env.send_apdus(0, ["00A4000C023F00", "0084000008", "0084000008",
                                               "00FF000000"])
        self.assertEqual(len(results), 4, out)
        self.assertEqual(results[0], ("", "9000"))
        self.assertEqual(len(results[1][0]), 16)
        self.assertNotEqual(results[1][0], results[2][0])
        self.assertEqual(results[3][1], "6D00")

    def test_card_removal_and_reinsert(self):
        self.env.start_vicc(1)
        self.env.wait_card(1)
        self.env.stop_card(1)
        self.env.wait_card(1, present=False)
        self.env.start_vicc(1)
        self.env.wait_card(1)

    def test_scripted_card_slow_instruction(self):
        self.env.start_scripted_card(0, delay=1.0)
        self.env.wait_card(0)
        start = time.monotonic()
        results, out = self.env.send_apdus(0, ["0084000008", "805A0000", "00B0000000"])
        self.assertEqual([sw for _, sw in results], ["9000", "9000", "9000"], out)
        self.assertGreaterEqual(time.monotonic() - start, 1.0)
        self.assertEqual(results[2][0], "".join(f"{i:02X}" for i in range(256)))

    def test_pcscd_restart_brings_cards_back(self):
        self.env.start_vicc(0)
        self.env.wait_card(0)
        self.env.restart_pcscd()
        self.assertTrue(self.env.card_present(0))


class VpcdPortChoiceTest(unittest.TestCase):
    def test_debian_port_when_the_range_allows_it_else_one_outside(self):
        self.assertEqual(pcsc_env.choose_vpcd_base_port((49152, 65535)), 35963)
        self.assertEqual(pcsc_env.choose_vpcd_base_port((32768, 60999)), 31963)
        self.assertEqual(pcsc_env.choose_vpcd_base_port((15000, 60999)), 61963)
        self.assertEqual(pcsc_env.choose_vpcd_base_port((1024, 65535)), 35963)  # no way out


class ParseTest(unittest.TestCase):
    def test_parse_apdu_output_ascii_column_looking_like_hex(self):
        text = ("Sending: 00 B0 00 00 03 \n"
                "Received (SW1=0x90, SW2=0x00):\n"
                "34 46 20 4F \n"
                "Received (SW1=0x6A, SW2=0x82)\n")
        self.assertEqual(opensc_tool.parse_apdu_output(text),
                         [("344620", "9000"), ("", "6A82")])

    def test_parse_apdu_output_padded_partial_last_line(self):
        # 17 bytes: OpenSC pads the second, partial line to 16 groups.
        first = "".join(f"{b:02X} " for b in range(0x30, 0x40)) + "0123456789:;<=>?"
        text = ("Received (SW1=0x90, SW2=0x00):\n" + first + "\n"
                "41 " + " " * 45 + "A\n")
        self.assertEqual(opensc_tool.parse_apdu_output(text),
                         [("".join(f"{b:02X}" for b in range(0x30, 0x40)) + "41", "9000")])


if __name__ == "__main__":
    unittest.main()
