# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient --vicc / --vicc-connect end to end (issue 14): vpcd card programs
straight into a VSCard host, with no pcscd anywhere in these tests.

- Debian's vicc (iso7816 card) connects to `vscclient --vicc`; a `vschost
  --script` run selects the MF, gets two GET CHALLENGE answers, creates, writes
  and reads back a file; vicc is killed and restarted: the host sees the card
  removed, then inserted again, in the same reader.
- vicc -R (reversed mode) with `vscclient --vicc-connect`, redialled after vicc
  is restarted.
- QEMU's one reader per passthru device (vschost --mode qemu): a second card's
  reader is refused and the log says why; the first card works on.
- docs/vicc.md's chain 3 on one machine: vicc -> vscclient --vicc -> TLS ->
  vschost --export-pcsc -> our pcscd's vpcd -> opensc-tool (this one needs pcscd,
  for the application's side only).

vicc facts used (Debian's vsmartcard-vpicc, see test_vscclient_pcsc.py too): its
iso7816 card starts with an empty MF; SELECT with P2=00 and UPDATE BINARY without
Le kill it, so the scripts use P2=0C and give UPDATE BINARY an Le byte (it then
answers 6282). vicc exits when the reader side closes its connection.
The hostile card programs are in test_vscclient_vicc_faults.py.
"""
import os
import shutil
import subprocess
import time
import unittest

import export_chain as ec
import pcsc_env
import tls_certs
from ports import free_port
from vicc_chain import ViccChain

# The docs' example script (docs/vicc.md, chain 2), then the card leaves and comes back.
EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "examples",
                       "vicc-iso7816.vsc")
ISO_TAIL = """wait-removal timeout=60s
wait-card "vicc 0" timeout=60s
send 00A4000C023F00 expect only 9000
send 0084000008 expect $c3:8 9000
"""


def events_of(host):
    return ec.json_events(host.output())


class ViccScriptTest(unittest.TestCase):
    def setUp(self):
        self.vc = ViccChain(self)

    def assert_passed(self, status, events):
        steps = [e for e in events if e.get("event") == "step"]
        failed = [e for e in steps if e.get("status") != "passed"]
        self.assertTrue(steps, self.vc.logs())
        self.assertEqual((status, failed), (0, []), self.vc.logs())

    def test_iso7816_card_without_pcscd_then_removed_and_inserted_again(self):
        script = os.path.join(self.vc.chain.tmp, "iso.vsc")
        with open(EXAMPLE) as example, open(script, "w") as f:
            f.write(example.read() + ISO_TAIL)
        host = self.vc.chain.vschost("--mode", "multi", "--once", "--script", script,
                                     "--report", "json", "--timeout", "240")
        client = self.vc.vscclient(host.port, "--vicc=0")
        port = self.vc.vicc_port(client)
        first = self.vc.start_vicc(port)
        # After the read-back step passed: vicc goes away, then comes back.
        host.wait_output(r'"event":\s*"step"[^\n]*"text":\s*"send 00B0000004', timeout=120)
        first.stop()
        host.wait_output(r'"event":\s*"card_removed"', timeout=60)
        self.vc.start_vicc(port)
        try:
            status = host.proc.wait(260)
        except subprocess.TimeoutExpired:
            raise AssertionError("vschost did not finish:\n" + self.vc.logs()) from None
        events = events_of(host)
        self.assert_passed(status, events)
        challenges = [e["response"] for e in events
                      if e.get("event") == "apdu" and e["command"].replace(" ", "") == "0084000008"]
        self.assertEqual(len(challenges), 3, events)
        self.assertNotEqual(challenges[0], challenges[1])
        # One reader for the whole run: the card left it and came back to it.
        self.assertEqual([e["name"] for e in events if e.get("event") == "reader_added"],
                         ["vicc 0"])
        kinds = [e["event"] for e in events if e["event"] in ("card_inserted", "card_removed")]
        self.assertEqual(kinds, ["card_inserted", "card_removed", "card_inserted"])
        inserted = [e for e in events if e.get("event") == "card_inserted"]
        # vicc's iso7816 ATR (3B 95 13 81 01 80 73 FF 01 00 0B) offers T=1 only; the
        # T=0 presentation (docs/t0-presentation.md) shows the host a T=0 card with
        # the same historical bytes.
        self.assertEqual({e["historical"].replace(" ", "") for e in inserted}, {"8073FF0100"})
        self.assertTrue(all("T=0" in e["protocols"] for e in inserted), inserted)
        self.assertRegex(client.output(), r"ATR 3B ?95 ?13 ?81 ?01 ?80 ?73 ?FF ?01 ?00 ?0B")
        self.assertRegex(client.output(), r"vicc 0: the card from 127\.0\.0\.1:\d+ closed the "
                                          r"connection \(card removed\)")

    def test_reversed_vicc_with_vicc_connect_is_redialled(self):
        port = free_port()
        name = f"vicc 127.0.0.1:{port}"
        script = os.path.join(self.vc.chain.tmp, "reversed.vsc")
        with open(script, "w") as f:
            f.write(f'timeout 20s\nwait-card "{name}" timeout=60s\n'
                    'send 00A4000C023F00 expect only 9000\nsend 0084000008 expect $a:8 9000\n'
                    'wait-removal timeout=60s\n'
                    f'wait-card "{name}" timeout=60s\nsend 0084000008 expect $b:8 9000\n')
        first = self.vc.start_vicc(port, reversed_mode=True)
        time.sleep(0.5)
        if not first.alive():
            # vicc -R first looks up its own address with a UDP socket to 9.9.9.9.
            self.skipTest("vicc -R exited at once (no default route?):\n" + first.output())
        host = self.vc.chain.vschost("--mode", "multi", "--once", "--script", script,
                                     "--report", "json", "--timeout", "240")
        client = self.vc.vscclient(host.port, f"--vicc-connect=127.0.0.1:{port}")
        host.wait_output(r'"event":\s*"step"[^\n]*"text":\s*"send 0084000008', timeout=120)
        first.stop()
        host.wait_output(r'"event":\s*"card_removed"', timeout=60)
        time.sleep(1)  # vscclient retries meanwhile: "waiting for the card"
        self.vc.start_vicc(port, reversed_mode=True)
        try:
            status = host.proc.wait(260)
        except subprocess.TimeoutExpired:
            raise AssertionError("vschost did not finish:\n" + self.vc.logs()) from None
        events = events_of(host)
        self.assert_passed(status, events)
        self.assertEqual([e["name"] for e in events if e.get("event") == "reader_added"], [name])
        self.assertEqual(sum(1 for e in events if e.get("event") == "card_inserted"), 2)
        self.assertIn(f"{name}: waiting for the card (vicc -R)", client.output())

    def test_qemu_mode_refuses_a_second_reader_and_says_why(self):
        host = self.vc.chain.vschost("--mode", "qemu", "--report", "json", interactive=True)
        client = self.vc.vscclient(host.port, "--vicc=0")
        port = self.vc.vicc_port(client)
        self.vc.start_vicc(port)
        host.wait_output(r'"event":\s*"card_inserted"', timeout=60)
        self.vc.start_vicc(port)
        client.wait_output(r"host refused reader vicc 1: [^\n]*one reader per connection",
                           timeout=60)
        host.command("send 0 00A4000C023F00")
        host.wait_output(r'"event":\s*"apdu"[^\n]*"sw":\s*"9000"', timeout=60)


class ViccOverTlsToPcscTest(unittest.TestCase):
    def test_pcsc_application_uses_the_simulated_card_over_tls(self):
        vc = ViccChain(self)
        if shutil.which("openssl") is None:
            self.skipTest("openssl is not installed (tests/ci-packages.txt)")
        host_dir = os.path.join(vc.chain.tmp, "tls-host")
        client_dir = os.path.join(vc.chain.tmp, "tls-client")
        tls_certs.make_ca(host_dir, "vscard test CA")
        tls_certs.issue(host_dir, host_dir, "server", "localhost", san="DNS:localhost,IP:127.0.0.1")
        tls_certs.client_dir(host_dir, client_dir, with_client_cert=True)
        env = vc.chain.pcsc()  # the application's side: pcscd with vpcd (slot 0 at pcsc_env.vpcd_port(0))
        host = vc.chain.vschost("--tls-creds", host_dir, "--export-pcsc")
        client = vc.vscclient(host.port, "--vicc=0", "--tls-creds", client_dir)
        client.wait_output(r"connected to 127\.0\.0\.1:\d+ \(TLS\)", timeout=60)
        vc.start_vicc(vc.vicc_port(client))
        reader = pcsc_env.reader_name(0)
        try:
            env.wait_card(reader, timeout=60)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{vc.logs()}") from None
        # P2=0C: Debian's vicc dies on SELECT with P2=00 (FCP).
        results, out = env.send_apdus(reader, ["00A4000C023F00", "0084000008", "0084000008",
                                               "00FF000000"])
        self.assertEqual(len(results), 4, out + vc.logs())
        self.assertEqual(results[0], ("", "9000"), out)
        self.assertEqual([(len(d), sw) for d, sw in results[1:3]], [(16, "9000")] * 2, out)
        self.assertNotEqual(results[1][0], results[2][0], out)
        self.assertEqual(results[3], ("", "6D00"), out)  # the card's own answer


if __name__ == "__main__":
    unittest.main()
