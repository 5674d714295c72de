#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Session markers end to end (issue 15; the CardControl extension, docs/protocol.md),
with real peers:

- pcscd + vpcd + `vschost --mode multi --export-pcsc` <-> `vscclient --vicc` <->
  Debian's `vicc -vvv`: an application on the host (opensc-tool) resets the card warm
  (SCardReconnect with SCARD_RESET_CARD) and cold (SCARD_UNPOWER_CARD); vicc's own
  log shows "Reset", then "Power Down" before "Power Up", after the point where the
  application acted, and the application's next APDU is answered. An application
  holding the card (pcsc_hold: shared, then exclusive, 1.5 s each) reaches vscclient
  as "reader in use", "not in use", "reader exclusive", "not in use", in that order
  (vschost watches its own readers through SCardGetStatusChange). The same over TLS.
- `vscclient --pcsc` in front of pcscd + vpcd + vicc: a vschost script's `reset` is
  logged and left alone by default (vicc sees no reset), and reaches vicc through
  SCardReconnect(SCARD_RESET_CARD) with --pcsc-reset.
- an NSS card emulated by libcacard, its database protected by a PIN: after a vschost
  script's `reset` (and `power-off`/`power-on`), the VERIFY status query (VERIFY with
  no data) no longer answers 9000: libcacard logged the token out (vcard_emul_reset);
  vscclient --trace shows each event among the APDUs.
"""
import os
import re
import shutil
import subprocess
import time
import unittest

import build_tree
import opensc_tool
from processes import LoggedProcess
import export_chain as ec
import pcsc_env
import tls_certs
from vicc_chain import ViccChain

VICC_MARKERS = re.compile(r"\b(Power Down|Power Up|Reset)\b")
# vscclient -v: Bridge::on_card_control's line for each reader use event.
IN_USE_EVENTS = re.compile(r"host: (reader in use|reader not in use|reader exclusive) "
                           r"for the card in vicc 0")


def vicc_markers(text):
    return VICC_MARKERS.findall(text)


def is_subsequence(wanted, seen):
    it = iter(seen)
    return all(any(x == w for x in it) for w in wanted)


class ApplicationResetReachesVicc(unittest.TestCase):
    def run_chain(self, tls):
        vc = ViccChain(self)
        host_args, client_args = [], []
        if tls:
            if shutil.which("openssl") is None:
                self.skipTest("openssl is not installed (tests/ci-packages.txt)")
            host_dir = os.path.join(vc.chain.tmp, "tls-host")
            client_dir = os.path.join(vc.chain.tmp, "tls-client")
            tls_certs.make_ca(host_dir, "vscard test CA")
            tls_certs.issue(host_dir, host_dir, "server", "localhost",
                            san="DNS:localhost,IP:127.0.0.1")
            tls_certs.client_dir(host_dir, client_dir, with_client_cert=True)
            host_args, client_args = ["--tls-creds", host_dir], ["--tls-creds", client_dir]
        env = vc.chain.pcsc()
        host = vc.chain.vschost("--mode", "multi", "--export-pcsc", *host_args)
        client = vc.vscclient(host.port, "--vicc=0", "--raw", "-v", *client_args)
        # vicc logs the control frames at INFO level, which takes -vvv (/usr/bin/vicc).
        vicc = LoggedProcess(pcsc_env.vicc_argv(vc.vicc_port(client), extra_args=("-v", "-v")),
                          os.path.join(vc.chain.tmp, "vicc-vvv.log"), env=vc.vicc_env)
        vc.viccs.append(vicc)
        reader = pcsc_env.reader_name(0)
        try:
            env.wait_card(reader, timeout=60)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{vc.logs()}") from None
        index = env.reader_index(reader)

        def application(reset):
            """opensc-tool connects, resets the card `reset` (warm|cold), sends GET
            CHALLENGE; returns vicc's markers logged meanwhile."""
            before = len(vicc.output())
            r = subprocess.run([opensc_tool.OPENSC_TOOL, "-r", str(index), f"--reset={reset}",
                                "-s", "0084000008"], capture_output=True, text=True, timeout=120)
            results = opensc_tool.parse_apdu_output(r.stdout)
            self.assertEqual([(len(d), sw) for d, sw in results], [(16, "9000")],
                             r.stdout + r.stderr + vc.logs())
            return vicc_markers(vicc.output()[before:])

        warm = application("warm")
        self.assertIn("Reset", warm, vc.logs())
        cold = application("cold")
        self.assertTrue(is_subsequence(["Power Down", "Power Up"], cold), (cold, vc.logs()))
        # Forwarded as CardControl (vschost -v) and acted on by vscclient (-v).
        self.assertRegex(host.output(), r"export: vpcd slot 0: reset -> client's card")
        self.assertRegex(host.output(), r"export: vpcd slot 0: power off -> client's card")
        self.assertRegex(client.output(), r"vicc 0: reset -> the card from")
        self.assertRegex(client.output(), r"vicc 0: power off -> the card from")
        # The application's session itself: vschost watches its exported reader
        # through PC/SC (SCARD_STATE_INUSE / SCARD_STATE_EXCLUSIVE, polled every
        # 100 ms) and tells the client when an application holds the card.
        # opensc-tool's sessions may be shorter than a poll, so pcsc_hold keeps
        # one shared, then one exclusive session open for 1.5 s each, with the
        # reader left free for 0.5 s between them (a gap shorter than a poll
        # would be seen as in use -> exclusive, without the not in use).
        hold = build_tree.program("pcsc_hold")
        if hold is None:
            self.skipTest("pcsc_hold is not built (libpcsclite-dev, tests/ci-packages.txt)")
        time.sleep(0.5)  # the opensc-tool sessions' own events are out
        before = len(client.output())
        for mode in ("shared", "exclusive"):
            r = subprocess.run([hold, reader, mode, "1500"], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + vc.logs())
            self.assertEqual(r.stdout.split(), ["connected", "released"], r.stderr)
            time.sleep(0.5)  # free for 5 polls: seen as free between the two sessions
        wanted = ["reader in use", "reader not in use", "reader exclusive", "reader not in use"]
        deadline = time.monotonic() + 10
        while True:
            seen = IN_USE_EVENTS.findall(client.output()[before:])
            if is_subsequence(wanted, seen) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertTrue(is_subsequence(wanted, seen), (seen, vc.logs()))
        # One event per change, not one per poll: each hold lasts 15 polls.
        self.assertLessEqual(len(seen), 6, (seen, vc.logs()))
        self.assertRegex(host.output(), r"export: vpcd slot 0: reader exclusive -> client's card")

    def test_opensc_resets_reach_vicc_in_order(self):
        self.run_chain(tls=False)

    def test_opensc_resets_reach_vicc_in_order_over_tls(self):
        self.run_chain(tls=True)


class PcscResetIsOptIn(unittest.TestCase):
    SCRIPT = """timeout 30s
wait-card timeout=60s
send 0084000008 expect $a:8 9000
reset
send 0084000008 expect $b:8 9000
"""

    def run_client(self, *extra):
        chain = ec.ExportChain(self, need_pcsc_client=True)
        env = chain.pcsc()
        env.start_vicc(0, extra_args=("-v", "-v"))  # -vvv: the control frames at INFO
        reader = pcsc_env.reader_name(0)
        env.wait_card(reader, timeout=60)
        script = os.path.join(chain.tmp, "reset.vsc")
        with open(script, "w") as f:
            f.write(self.SCRIPT)
        host = chain.vschost("--mode", "multi", "--once", "--script", script, "--timeout", "120")
        before = len(env.card_log_text(0))
        client = chain.vscclient(host.port, "--pcsc=" + reader, "-v", *extra)
        try:
            status = host.proc.wait(150)
        except subprocess.TimeoutExpired:
            raise AssertionError("vschost did not finish:\n" + chain.logs()) from None
        card_log = env.card_log_text(0)
        self.assertEqual(status, 0, chain.logs() + card_log)
        return vicc_markers(card_log[before:]), client

    def test_default_logs_the_reset_and_leaves_the_card_alone(self):
        markers, client = self.run_client()
        self.assertNotIn("Reset", markers)
        self.assertRegex(client.output(), r"warm reset left to the pcsc card source, which does "
                                          r"not act on it \(--pcsc-reset makes it reset the card\)")

    def test_pcsc_reset_resets_the_real_card(self):
        markers, client = self.run_client("--pcsc-reset")
        self.assertIn("Reset", markers, client.output())
        self.assertRegex(client.output(), r"warm reset done, ATR 3B ?95")


class ResetLogsTheNssCardOut(unittest.TestCase):
    """libcacard's VERIFY with no data (card_7816.c, vcard7816_vm_process_apdu):
    9000 if logged in, else 6A88 (its PIN counter is unknown)."""

    SCRIPT = """timeout 30s
wait-card "Virtual Reader" timeout=60s
send 00 20 00 00 expect 6A88
send 00 20 00 00 04 31 32 33 34 expect 9000
send 00 20 00 00 expect 9000
reset
send 00 20 00 00 expect 6A88
send 00 20 00 00 04 31 32 33 34 expect 9000
power-off
power-on
send 00 20 00 00 expect 6A88
"""

    def test_reset_and_power_cycle_drop_the_verified_pin(self):
        if shutil.which("certutil") is None:
            self.skipTest("certutil is not installed (libnss3-tools, tests/ci-packages.txt)")
        chain = ec.ExportChain(self)
        db = os.path.join(chain.tmp, "db")
        os.mkdir(db)
        pin = os.path.join(chain.tmp, "pin")
        with open(pin, "w") as f:
            f.write("1234\n")
        noise = os.path.join(chain.tmp, "noise")
        with open(noise, "wb") as f:
            f.write(os.urandom(64))
        subprocess.run(["certutil", "-N", "-d", "sql:" + db, "-f", pin], check=True,
                       capture_output=True)
        subprocess.run(["certutil", "-S", "-d", "sql:" + db, "-f", pin, "-n", "pin-card",
                        "-s", "CN=vscard PIN test", "-x", "-t", "u,u,u", "-k", "rsa", "-g",
                        "2048", "-z", noise], check=True, capture_output=True)
        script = os.path.join(chain.tmp, "pin.vsc")
        with open(script, "w") as f:
            f.write(self.SCRIPT)
        host = chain.vschost("--mode", "multi", "--once", "--script", script, "--timeout", "120")
        client = chain.vscclient(host.port, "-e", f'db="sql:{db}"', "-c", "pin-card", "--trace")
        try:
            status = host.proc.wait(150)
        except subprocess.TimeoutExpired:
            raise AssertionError("vschost did not finish:\n" + chain.logs()) from None
        self.assertEqual(status, 0, chain.logs())
        self.assertIn("10 steps: 10 passed", host.output(), chain.logs())
        # --trace shows the events among the APDUs, in the order they came.
        self.assertRegex(client.output(), r"APDU > Virtual Reader: 00 20 00 00\n(.|\n)*"
                                          r"CardControl > Virtual Reader: warm reset\n(.|\n)*"
                                          r"CardControl > Virtual Reader: power off\n(.|\n)*"
                                          r"CardControl > Virtual Reader: power on\n")
        self.assertTrue(client.alive(), chain.logs())


if __name__ == "__main__":
    unittest.main()
