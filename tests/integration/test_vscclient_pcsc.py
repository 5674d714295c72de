# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient --pcsc end to end (issue 6): vicc cards in our own pcscd's vpcd
readers, bridged by vscclient --pcsc to vschost, which runs APDU scripts
against them (--report json gives every event and APDU).

vicc facts used (Debian's vsmartcard-vpicc): its iso7816 card starts with an
empty MF; SELECT with P2=00 (return FCP) and UPDATE BINARY without Le kill it,
so the scripts use P2=0C and give UPDATE BINARY an Le byte (it then answers
6282, its own status for "fewer bytes than Le").
"""
import os
import subprocess
import time
import unittest

import export_chain as ec
import opensc_tool
import pcsc_env

R0 = pcsc_env.reader_name(0)
R1 = pcsc_env.reader_name(1)

ISO_SCRIPT = f"""timeout 20s
wait-card "{R0}" timeout=60s
send 00A4000C023F00 expect only 9000
send 0084000008 expect $c1:8 9000
send 0084000008 expect $c2:8 9000
# a transparent EF 1234 of 16 bytes, written, then read back
send 00E000000D620B8002001082010183021234 expect only 9000
send 00A4000C021234 expect only 9000
send 00D6000004DEADBEEF00 expect only 6282
send 00B0000004 expect only DE AD BE EF 90 00
send 00FF000000 expect only 6D00
"""


def t0_face(atr_hex):
    """The ATR vscclient presents for a card whose ATR offers no T=0: TS, then
    T0 with no interface bytes, then the card's historical bytes (ISO 7816-3 8.2)."""
    atr = bytes.fromhex(atr_hex)
    historical = atr[1] & 0x0F
    pos, presence, offers_t0 = 2, atr[1] >> 4, True  # no TD1: T=0 (8.2.3)
    while True:
        pos += bin(presence & 0x7).count("1")
        if not presence & 0x8:
            break
        if pos == 2 + bin(atr[1] >> 4 & 0x7).count("1"):  # TD1: the first protocol offered
            offers_t0 = atr[pos] & 0x0F == 0
        presence = atr[pos] >> 4
        pos += 1
    if offers_t0:
        return atr_hex
    return bytes([atr[0], historical]).hex().upper() + atr[pos:pos + historical].hex().upper()


class VscclientPcscScriptTest(unittest.TestCase):
    def setUp(self):
        self.chain = ec.ExportChain(self, need_pcsc_client=True)
        self.env = self.chain.pcsc()

    def script(self, text):
        path = os.path.join(self.chain.tmp, "script.vsc")
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_script(self, text, *host_args, client_pattern=R0, during=None):
        """vschost --once --script (JSON report) with vscclient --pcsc=PATTERN as
        its client; `during(host, client)` runs while the script does.
        Returns (exit status, events)."""
        host = self.chain.vschost("--once", "--script", self.script(text), "--report", "json",
                                  "--timeout", "240", *host_args)
        client = self.chain.vscclient(host.port, "--pcsc=" + client_pattern)
        if during:
            during(host, client)
        try:
            status = host.proc.wait(260)
        except Exception:
            raise AssertionError("vschost did not finish:\n" + self.chain.logs()) from None
        self.client = client
        return status, ec.json_events(host.output())

    def steps(self, events):
        return [e for e in events if e.get("event") == "step"]

    def assert_passed(self, status, events):
        failed = [e for e in self.steps(events) if e.get("status") != "passed"]
        self.assertTrue(self.steps(events), self.chain.logs())
        self.assertEqual((status, failed), (0, []), self.chain.logs())

    def test_iso7816_script_through_the_bridge(self):
        self.env.start_vicc(0)
        status, events = self.run_script(ISO_SCRIPT)
        self.assert_passed(status, events)
        added = [e["name"] for e in events if e.get("event") == "reader_added"]
        self.assertEqual(added, [R0])
        challenges = [e["response"] for e in events
                      if e.get("event") == "apdu" and e["command"].replace(" ", "") == "0084000008"]
        self.assertEqual(len(challenges), 2, events)
        self.assertNotEqual(challenges[0], challenges[1])
        inserted = [e for e in events if e.get("event") == "card_inserted"]
        # vicc's ATR offers only T=1: vscclient presents it as a T=0 card
        # (docs/t0-presentation.md), TS and historical bytes kept.
        self.assertEqual(inserted[0]["atr"], t0_face(ec.opensc_atr(self.env, R0)))

    def test_card_removal_and_insert_reach_the_host(self):
        self.env.start_vicc(0)

        def remove_and_insert(host, client):
            host.wait_output(r'"event":\s*"step"')   # the first wait-card passed
            self.env.stop_card(0)
            host.wait_output(r'"event":\s*"card_removed"')
            self.env.start_vicc(0)

        status, events = self.run_script(
            f'wait-card "{R0}" timeout=60s\nwait-removal timeout=60s\n'
            f'wait-card "{R0}" timeout=60s\nsend 00A4000C023F00 expect only 9000\n',
            during=remove_and_insert)
        self.assert_passed(status, events)
        kinds = [e["event"] for e in events if e["event"] in ("card_inserted", "card_removed")]
        self.assertEqual(kinds, ["card_inserted", "card_removed", "card_inserted"])

    def test_pcscd_restart_brings_the_card_back(self):
        self.env.start_vicc(0)

        def restart(host, client):
            host.wait_output(r'"event":\s*"apdu"')
            self.env.restart_pcscd()   # starts vicc again too

        status, events = self.run_script(
            f'wait-card "{R0}" timeout=60s\nsend 00A4000C023F00 expect only 9000\n'
            f'wait-removal timeout=60s\nwait-card "{R0}" timeout=90s\n'
            'send 0084000008 expect $c:8 9000\n', during=restart)
        self.assert_passed(status, events)
        # The same vscclient process did it all.
        self.assertEqual(sum(1 for e in events if e["event"] == "client_connected"), 1)
        self.assertTrue(self.client.alive(), self.chain.logs())

    def test_two_cards_in_multi_mode(self):
        self.env.start_vicc(0)
        self.env.start_vicc(1)
        status, events = self.run_script(
            f'timeout 20s\nwait-card "{R0}" timeout=60s\nsend 0084000008 expect $a:8 9000\n'
            f'wait-card "{R1}" timeout=60s\nsend 0084000008 expect $b:8 9000\n'
            f'send 00A4000C023F00 expect only 9000\n'
            f'wait-card "{R0}"\nsend 00FF000000 expect only 6D00\n',
            "--mode", "multi", client_pattern="Virtual PCD 00 0?")
        self.assert_passed(status, events)
        added = sorted(e["name"] for e in events if e.get("event") == "reader_added")
        self.assertEqual(added, [R0, R1])
        readers = {e["reader"] for e in events if e.get("event") == "apdu"}
        self.assertEqual(len(readers), 2, events)

    def test_pattern_selects_one_reader(self):
        self.env.start_vicc(0)
        self.env.start_vicc(1)
        status, events = self.run_script(
            f'wait-card "{R1}" timeout=60s\nsend 00A4000C023F00 expect only 9000\n',
            "--mode", "multi", client_pattern="00 01")
        self.assert_passed(status, events)
        added = [e["name"] for e in events if e.get("event") == "reader_added"]
        self.assertEqual(added, [R1])


class SharingTest(unittest.TestCase):
    """-p (libcacard's first reader) and --exclusive against the real pcscd."""

    def setUp(self):
        self.chain = ec.ExportChain(self, need_pcsc_client=True)
        self.env = self.chain.pcsc()

    def test_p_bridges_only_the_first_reader(self):
        self.env.start_vicc(0)
        self.env.start_vicc(1)
        host = self.chain.vschost("--mode", "multi", "--report", "json")
        self.chain.vscclient(host.port, "-p")
        host.wait_output(r'"event":\s*"card_inserted"', timeout=60)
        events = ec.json_events(host.output())
        self.assertEqual([e["name"] for e in events if e.get("event") == "reader_added"], [R0],
                         self.chain.logs())

    def opensc_can_use(self, reader):
        """opensc-tool connects to the card (SCardConnect, shared) and sends SELECT MF."""
        r = subprocess.run([opensc_tool.OPENSC_TOOL, "-r", str(self.env.reader_index(reader)),
                            "-s", "00A4000C023F00"], capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        return r.returncode == 0 and "SW1=0x90" in out, out

    def test_exclusive_keeps_other_applications_out_shared_does_not(self):
        self.env.start_vicc(0)
        self.env.wait_card(0)
        for exclusive in (True, False):
            host = self.chain.vschost("--report", "json", interactive=True)
            args = ["--pcsc=" + R0] + (["--exclusive"] if exclusive else [])
            client = self.chain.vscclient(host.port, *args)
            host.wait_output(r'"event":\s*"card_inserted"', timeout=60)
            # vscclient has used the card (so holds a handle to it) ...
            host.command("send 1:0 00A4000C023F00")
            host.wait_output(r'"event":\s*"apdu"[^\n]*"sw":\s*"9000"', timeout=60)
            # ... and another application tries to.
            if exclusive:
                # The worker takes the card right after announcing it.
                deadline = time.monotonic() + 20
                while True:
                    ok, out = self.opensc_can_use(R0)
                    if not ok or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                self.assertFalse(ok, out + self.chain.logs())
                self.assertRegex(out.lower(), r"sharing violation|in use by another application")
            else:
                ok, out = self.opensc_can_use(R0)
                self.assertTrue(ok, out + self.chain.logs())
            client.stop()
            host.stop()
        ok, out = self.opensc_can_use(R0)  # nothing holds the card any more
        self.assertTrue(ok, out)


class SlowCardTest(unittest.TestCase):
    """A slow card (lib/vpcd_card.py, INS 5A answers after a delay) does not hold
    up the other reader: its answer comes after the other reader's."""

    def test_slow_card_does_not_block_the_other_reader(self):
        chain = ec.ExportChain(self, need_pcsc_client=True)
        env = chain.pcsc()
        env.start_scripted_card(0, delay=8.0)
        env.start_vicc(1)
        env.wait_card(0)
        env.wait_card(1)
        host = chain.vschost("--mode", "multi", "--report", "json", interactive=True)
        chain.vscclient(host.port, "--pcsc=Virtual PCD 00 0?")
        host.wait_output(r'"card_inserted"[^\n]*\n[\s\S]*"card_inserted"', timeout=60)
        events = ec.json_events(host.output())
        ids = {e["name"]: (e["client"], e["reader"]) for e in events
               if e.get("event") == "reader_added"}
        self.assertEqual(set(ids), {R0, R1}, chain.logs())
        slow, fast = ("%d:%d" % ids[R0]), ("%d:%d" % ids[R1])
        host.command(f"send {slow} 805A0000")
        host.command(f"send {fast} 0084000008")
        host.wait_output(r'"command":\s*"80 5A 00 00"', timeout=60)
        apdus = [e for e in ec.json_events(host.output()) if e.get("event") == "apdu"]
        order = [(e["reader"], e.get("sw")) for e in apdus]
        self.assertEqual(order, [(ids[R1][1], "9000"), (ids[R0][1], "9000")], chain.logs())


if __name__ == "__main__":
    unittest.main()
