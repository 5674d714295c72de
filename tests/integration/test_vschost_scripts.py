# SPDX-License-Identifier: LGPL-2.1-or-later
"""vschost --script: passing, failing and timed-out scripts, variables, each
report format (TAP plan, JUnit XML that parses, JSON lines), and the clear
errors of the command line. The client is lib/vscard_peer.py answering like a card."""
import json
import os
import struct
import subprocess
import tempfile
import threading
import unittest
import xml.etree.ElementTree as ET

from build_tree import program, program_path
from vscard_peer import (CAP_CARD_CONTROL, CAP_RECONNECT, CARD_CONTROL, POWER_OFF, POWER_ON,
                         VICC_ATR, WARM_RESET, Peer, atr)
from vschost_proc import VschostProcess

CHALLENGE = bytes(range(1, 9))


def card(reader, apdu):
    """A tiny card: GET CHALLENGE, EXTERNAL AUTH checking the challenge, else 6A82."""
    if apdu[1] == 0x84:
        return CHALLENGE + b"\x90\x00"
    if apdu[1] == 0x82:
        return b"\x90\x00" if apdu[5:13] == CHALLENGE else b"\x69\x82"
    if apdu[1] == 0xA4:
        return b"\x6F\x03\x84\x01\x3F\x90\x00"
    return b"\x6A\x82"


PASSING = """# a passing run
timeout 5s
wait-card "Test Reader"
send 00 A4 04 00 02 3F 00 expect 6F XX * 9000
send 0084000008 expect $c:8 9000
send 0082000008 $c expect only 9000
send 00B00000 expect 6A82
sleep 20ms
"""


class ScriptTest(unittest.TestCase):
    def setUp(self):
        if program("vschost") is None:
            self.skipTest("vschost is not built")
        self.tmp = tempfile.TemporaryDirectory()
        self.hosts = []

    def tearDown(self):
        for h in self.hosts:
            h.stop()
        self.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_script(self, text, extra=(), client=None):
        """Runs vschost --once with the script; `client(port)` plays the client.
        Returns (exit status, stdout, stderr)."""
        path = self.write("s.vsc", text)
        host = VschostProcess(["--once", "--script", path, "--timeout", "60"] + list(extra))
        self.hosts.append(host)
        host.start()
        t = threading.Thread(target=(client or self.good_client), args=(host.port,))
        t.start()
        status = host.wait(60)
        t.join(30)
        return status, host.stdout_text(), host.stderr_text()

    @staticmethod
    def good_client(port):
        with Peer.connect("127.0.0.1", port) as p:
            p.handshake()
            p.serve_card(card, timeout=30)

    def test_passing_script_exits_zero(self):
        status, out, err = self.run_script(PASSING)
        self.assertEqual(status, 0, out + err)
        self.assertIn("6 steps: 6 passed, 0 failed", out)

    def test_failing_step_exits_one_and_says_why(self):
        status, out, err = self.run_script("wait-card\nsend 00B0 expect 9000\nsend 00A4 expect 61XX\n")
        self.assertEqual(status, 1)
        self.assertIn("status word is 6A82", out)
        self.assertIn("2 failed", out)

    def test_step_timeout(self):
        def no_card(port):
            with Peer.connect("127.0.0.1", port) as p:
                p.handshake(card_atr=None)
                p.serve_card(card, timeout=10)
        status, out, err = self.run_script("wait-card timeout=300ms\n", client=no_card)
        self.assertEqual(status, 1)
        self.assertIn("timed out after 300 ms waiting for a card", out)

    def test_variable_mismatch_detected(self):
        # The card checks the challenge; sending another value must fail the expect.
        status, out, err = self.run_script(
            "wait-card\nsend 0084000008 expect $c:8 9000\nset $other 0102030405060709\n"
            "send 0082000008 $other expect 9000\n")
        self.assertEqual(status, 1)
        self.assertIn("status word is 6982", out)

    def test_client_disconnect_fails_and_skips(self):
        def leaves(port):
            with Peer.connect("127.0.0.1", port) as p:
                p.handshake()
        status, out, err = self.run_script("wait-card\nwait-removal timeout=20\nsend 00\n",
                                           client=leaves)
        self.assertEqual(status, 1)
        self.assertIn("client disconnected", out)
        self.assertIn("1 not run", out)

    def test_power_statements_reach_the_client_in_order(self):
        events = []

        def resettable(port):
            with Peer.connect("127.0.0.1", port) as p:
                rid = p.handshake(caps=(CAP_RECONNECT | CAP_CARD_CONTROL,))

                def control(m):
                    if m[0] == CARD_CONTROL:
                        code = struct.unpack(">I", m[2])[0]
                        events.append(code)
                        if code in (POWER_ON, WARM_RESET):
                            p.send(atr(VICC_ATR, rid))  # the card's ATR after the reset
                    return False
                p.serve_card(card, until=control, timeout=30)

        status, out, err = self.run_script(
            "wait-card\nsend 00A40400023F00 expect 6F XX * 9000\npower-off\n"
            "power-on timeout=5\nreset timeout=5\nsend 0084000008 expect $c:8 9000\n",
            extra=("--mode", "multi"), client=resettable)
        self.assertEqual(status, 0, out + err)
        self.assertEqual(events, [POWER_OFF, POWER_ON, WARM_RESET])
        self.assertIn("ATR " + VICC_ATR.hex().upper(), out)

    def test_power_statement_fails_for_a_client_without_the_extension(self):
        seen = []

        def plain(port):
            with Peer.connect("127.0.0.1", port) as p:
                p.handshake(caps=(CAP_RECONNECT,))
                p.serve_card(card, until=lambda m: seen.append(m[0]) and False, timeout=10)

        status, out, err = self.run_script("wait-card\nreset\nsend 00A40400023F00\n",
                                           extra=("--mode", "multi"), client=plain)
        self.assertEqual(status, 1, out + err)
        self.assertIn("did not advertise the CardControl capability", out)
        self.assertIn("2 passed, 1 failed", out)
        self.assertNotIn(CARD_CONTROL, seen)  # nothing of type 11 on the wire

    def test_tap_report_has_the_right_plan(self):
        status, out, err = self.run_script(PASSING + "send 00B0 expect 9000\n", ["--report", "tap"])
        self.assertEqual(status, 1)
        lines = out.splitlines()
        self.assertEqual(lines[0], "TAP version 13")
        self.assertEqual(lines[1], "1..7")
        results = [l for l in lines if l.startswith(("ok ", "not ok "))]
        self.assertEqual(len(results), 7)
        self.assertTrue(results[-1].startswith("not ok 7 - line 9"), results[-1])
        self.assertIn("7 steps: 6 passed, 1 failed", err)  # human lines went to stderr

    def test_junit_report_parses(self):
        path = os.path.join(self.tmp.name, "out.xml")
        status, out, err = self.run_script(PASSING + "send 00B0 expect 9000 # <&>\n",
                                           ["--report", "junit:" + path])
        self.assertEqual(status, 1)
        root = ET.parse(path).getroot()
        self.assertEqual(root.tag, "testsuites")
        cases = root.findall("./testsuite/testcase")
        self.assertEqual(len(cases), 7)
        self.assertEqual(len(root.findall("./testsuite/testcase/failure")), 1)
        self.assertEqual(root.get("failures"), "1")

    def test_json_report_streams_events_and_steps(self):
        status, out, err = self.run_script(PASSING, ["--report", "json"])
        self.assertEqual(status, 0, err)
        events = [json.loads(l) for l in out.splitlines()]
        kinds = [e["event"] for e in events]
        for k in ("listening", "client_connected", "init", "reader_added", "card_inserted",
                  "apdu", "step", "disconnected", "summary"):
            self.assertIn(k, kinds)
        init = next(e for e in events if e["event"] == "init")
        self.assertEqual((init["version"], init["capabilities"]), (2, [0]))
        inserted = next(e for e in events if e["event"] == "card_inserted")
        self.assertEqual(inserted["atr"], "3B951381018073FF01000B")
        self.assertEqual(inserted["protocols"], "T=1")
        apdu = next(e for e in events if e["event"] == "apdu")
        self.assertEqual(apdu["sw"], "9000")
        self.assertIsInstance(apdu["duration_ms"], float)
        self.assertTrue(events[-1]["ok"])

    def test_hostile_reader_name_escaped_in_every_format(self):
        # Issue 18: a reader name (peer text) with a forged summary line, terminal
        # escapes (ESC[2J, an OSC title, the one-byte C1 CSI) and a bidi override
        # reaches neither the terminal nor any report raw, in any format.
        name = ("R\n1 run, 1 steps: 1 passed, 0 failed, 0 not run\r\x1b[2J\x1b]0;pwned\x07"
                "\u009b31m\u202eok").encode()

        def hostile(port):
            with Peer.connect("127.0.0.1", port) as p:
                p.handshake(reader_name=name)
                p.serve_card(card, timeout=30)

        # The name reaches the reports through wait-card's detail and a failing step.
        script = "wait-card\nsend 00B00000 expect 9000\n"
        junit = os.path.join(self.tmp.name, "hostile.xml")
        for fmt in (["-v"], ["--report", "tap", "-v"], ["--report", "json"],
                    ["--report", "junit:" + junit]):
            with self.subTest(fmt=fmt[1] if len(fmt) > 1 else "text"):
                status, out, err = self.run_script(script, fmt, client=hostile)
                self.assertEqual(status, 1, out + err)
                texts = {"stdout": out, "stderr": err}
                if fmt[-1].startswith("junit:"):
                    with open(junit, encoding="utf-8") as f:
                        texts["junit"] = f.read()
                    ET.parse(junit)
                if fmt[-1] == "json":
                    for line in out.splitlines():
                        json.loads(line)
                for where, text in texts.items():
                    for bad in ("\x1b", "\x07", "\r", "\u009b", "\u202e"):
                        self.assertNotIn(bad, text, f"{fmt} {where}: raw {bad!r}")
                    forged = [l for l in text.splitlines() if l.startswith("1 run, 1 steps")]
                    self.assertEqual(forged, [], f"{fmt} {where}: forged line")
                    self.assertNotIn("\n1 passed", text)
                # The true summary is still there (the human lines: stdout, or
                # stderr when stdout carries the report).
                self.assertIn("2 steps: 1 passed, 1 failed", out + err)

    def test_pin_commands_redacted_even_with_vv(self):
        # Issue 18: -vv used to write VERIFY's PIN into the JSON events.
        script = "wait-card\nsend 0020008008 31323334FFFFFFFF\n"
        for extra, leaked in ((["-vv"], False), (["-vv", "--log-pins"], True)):
            with self.subTest(extra=extra):
                status, out, err = self.run_script(script, ["--report", "json"] + extra)
                apdus = [json.loads(l) for l in out.splitlines() if '"apdu"' in l]
                self.assertTrue(apdus, out)
                text = out + err
                self.assertEqual("31323334FFFFFFFF" in text.replace(" ", "").upper(), leaked,
                                 apdus)

    def cli(self, *args):
        return subprocess.run([program_path("vschost"), "--no-interactive"] + list(args),
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)

    def test_syntax_error_names_file_and_line(self):
        path = self.write("bad.vsc", "wait-card\n\nsend 00A4 expect 9G00\n")
        r = self.cli("--script", path, "--listen", "127.0.0.1:0")
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{path}:3: expected hex digits or XX", r.stderr)

    def test_unreadable_script(self):
        r = self.cli("--script", os.path.join(self.tmp.name, "missing.vsc"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read the script", r.stderr)

    def test_address_in_use(self):
        host = VschostProcess()
        self.hosts.append(host)
        host.start()
        r = self.cli("--listen", host.addresses[0])
        self.assertEqual(r.returncode, 2)
        self.assertIn("in use", r.stderr.lower())

    def test_bad_tls_dir(self):
        r = self.cli("--tls-creds", os.path.join(self.tmp.name, "nope"), "--listen", "127.0.0.1:0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("ca-cert.pem", r.stderr)

    def test_bad_options(self):
        for args, text in ((["--mode", "kvm"], "--mode"), (["--report", "xml"], "--report"),
                           (["--max-readers", "0"], "--max-readers"), (["stray"], "unexpected")):
            r = self.cli(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(text, r.stderr)

    def test_help_documents_every_option(self):
        r = self.cli("--help")
        self.assertEqual(r.returncode, 0)
        for opt in ("--listen", "--tls-creds", "--mode", "--max-readers", "--max-clients",
                    "--script", "--report", "--once", "--timeout", "--verbose"):
            self.assertIn(opt, r.stdout)


if __name__ == "__main__":
    unittest.main()
