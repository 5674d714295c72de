# SPDX-License-Identifier: LGPL-2.1-or-later
"""Peers killed in the middle of an APDU (issue 9, fault injection).

The chain is all real processes:

    card program -> vpcd -> pcscd -> vscclient --pcsc -> vschost (script)

The card is lib/vpcd_card.py, whose INS 5A answers only after a delay: an APDU
the host sends with INS 5A is "in the middle" for that long, and the test kills
one process of the chain then (SIGKILL: no goodbye). Every survivor must report
it and recover or go on as documented:

- host killed: vscclient logs the lost connection once, drops the card's late
  answer, reconnects to a new host on the same port and serves its script;
- client killed: vschost logs the client's disconnection once, fails the running
  step, keeps running and serves the next vscclient (pcscd has released the dead
  client's card handle);
- pcscd killed: vscclient answers the outstanding APDU with an error (the host's
  step fails instead of hanging), keeps running, and announces the reader and
  card again when pcscd is back;
- card program killed (what vicc is for vpcd): the APDU fails the same way and
  both processes go on; that the removal and a real vicc inserted afterwards
  are then seen is checked too.

Skips with the reason when pcscd/vsmartcard are missing or another pcscd runs.
"""
import os
import signal
import subprocess
import tempfile
import time
import unittest

from build_tree import program, program_path
import pcsc_env
from vschost_proc import VschostProcess

SLOW_DELAY = 4.0
SLOW_APDU = "00 5A 00 00"
READER = pcsc_env.reader_name(0)


class Client:
    """vscclient --pcsc=READER HOST PORT, its stderr collected in a file."""

    def __init__(self, port, tmp, extra=()):
        self.err_path = os.path.join(tmp, f"vscclient-{time.monotonic_ns()}.stderr")
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"))
        env.pop("G_MESSAGES_DEBUG", None)
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [program_path("vscclient"), f"--pcsc={READER}", "--reconnect=1", *extra,
                 "127.0.0.1", str(port)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err, env=env)

    def log(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def close(self):
        self.kill()
        try:
            self.proc.stdin.close()
        except OSError:
            pass


class KillTest(unittest.TestCase):
    def setUp(self):
        if program("vschost") is None or program("vscclient") is None:
            self.skipTest("vschost and vscclient must be built (VSCARD_BUILD_DIR)")
        self.env = pcsc_env.PcscEnv()  # raises SkipTest with the reason
        self.tmp = tempfile.mkdtemp(prefix="vscard-kill-")
        self.hosts = []
        self.clients = []
        self.env.start()
        self.env.start_scripted_card(0, delay=SLOW_DELAY)
        self.env.wait_card(0)

    def tearDown(self):
        for c in self.clients:
            c.close()
        for h in self.hosts:
            h.stop()
        self.env.close()
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- helpers ----
    def host(self, script, port=0, once=False):
        path = os.path.join(self.tmp, f"script-{len(self.hosts)}.vsc")
        with open(path, "w") as f:
            f.write(script)
        args = ["--mode", "qemu", "--script", path]
        if once:
            args.append("--once")
        h = VschostProcess(args, listen=(f"127.0.0.1:{port}",))
        h.start()
        self.hosts.append(h)
        return h

    def client(self, port):
        c = Client(port, self.tmp)
        self.clients.append(c)
        return c

    def wait_until(self, what, predicate, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        logs = "\n".join(f"vscclient: {c.log()[-2000:]}" for c in self.clients)
        logs += "\n".join(f"vschost: {h.stderr_text()[-2000:]}\n{h.stdout_text()[-1000:]}"
                          for h in self.hosts)
        self.fail(f"timed out waiting for {what}\n{logs}\ncard: {self.env.card_log_text(0)[-1000:]}")

    @staticmethod
    def step_line(host, client, line, verdict):
        """True if vschost's report has `verdict` (ok/FAIL) for script line
        `line` of client number `client`."""
        return any(f"client {client} " in l and f"{verdict} " in l and f"line {line}:" in l
                   for l in host.stdout_text().splitlines())

    def wait_slow_apdu_at_card(self, count=1):
        self.wait_until("the slow APDU to reach the card",
                        lambda: self.env.card_log_text(0).count("APDU 005A0000") >= count)

    # ---- tests ----
    def test_host_killed_mid_apdu(self):
        first = self.host(f"wait-card timeout=30\nsend {SLOW_APDU} expect 9000 timeout=30\n")
        port = first.port
        client = self.client(port)
        self.wait_slow_apdu_at_card()
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        self.wait_until("vscclient to notice the host is gone", lambda: "ended" in client.log())
        # The card answers after the host died: nobody to send it to, no crash.
        time.sleep(SLOW_DELAY + 0.5)
        self.assertIsNone(client.proc.poll(), client.log()[-2000:])
        self.assertEqual(client.log().count("ended"), 1, client.log())
        # A new host on the same port gets the reader and card and its APDUs answered.
        second = self.host("wait-card timeout=60\nsend 00 B0 00 00 04 expect 00 01 02 03 9000\n",
                           port=port, once=True)
        self.assertEqual(second.wait(90), 0, second.stdout_text() + second.stderr_text())
        self.assertIsNone(client.proc.poll())

    def test_client_killed_mid_apdu(self):
        host = self.host(f"wait-card timeout=60\nsend {SLOW_APDU} expect 9000 timeout=30\n")
        first = self.client(host.port)
        self.wait_slow_apdu_at_card()
        first.kill()
        self.wait_until("vschost to report the client gone",
                        lambda: "disconnected" in host.stderr_text())
        self.assertEqual(host.stderr_text().count("client 1 disconnected"), 1, host.stderr_text())
        self.assertTrue(host.alive())
        # pcscd released the dead client's card: the next vscclient is served
        # (its slow APDU completes, the card answered it).
        self.client(host.port)
        self.wait_slow_apdu_at_card(2)
        self.wait_until("the second client's slow APDU step to pass",
                        lambda: self.step_line(host, 2, 2, "ok"), timeout=60)
        self.assertTrue(self.step_line(host, 1, 2, "FAIL"), host.stdout_text())
        self.assertTrue(host.alive())

    def test_pcscd_killed_mid_apdu(self):
        host = self.host(f"wait-card timeout=60\nsend {SLOW_APDU} expect 9000 timeout=60\n"
                         "wait-card timeout=60\nsend 00 B0 00 00 02 expect 00 01 9000\n")
        client = self.client(host.port)
        self.wait_slow_apdu_at_card()
        self.env.stop_pcscd()
        # The outstanding APDU is answered (with an error), not left hanging:
        # the step fails long before its 60 s timeout.
        self.wait_until("the host to see the APDU fail",
                        lambda: self.step_line(host, 1, 2, "FAIL"), timeout=30)
        self.assertIsNone(client.proc.poll(), client.log()[-2000:])
        # pcscd back, with a fast card: the reader and card come back.
        self.env.start()
        self.env.start_scripted_card(0, delay=SLOW_DELAY)
        self.env.wait_card(0)
        self.wait_until("the card to be announced again",
                        lambda: client.log().count("card inserted") >= 2, timeout=60)
        self.assertIsNone(client.proc.poll())
        self.assertTrue(host.alive())

    def kill_card_mid_apdu(self):
        host = self.host(f"wait-card timeout=60\nsend {SLOW_APDU} expect 9000 timeout=60\n")
        client = self.client(host.port)
        self.wait_slow_apdu_at_card()
        self.env.cards[0][0].send_signal(signal.SIGKILL)
        # The outstanding APDU is answered with an error at once (vpcd reports
        # the vanished card program as 0 bytes), not left to its 60 s timeout.
        self.wait_until("the host's step to fail with the client's error",
                        lambda: "answered Error" in host.stdout_text(), timeout=30)
        self.assertIsNone(client.proc.poll(), client.log()[-2000:])
        self.assertTrue(host.alive())
        return host, client

    def test_card_program_killed_mid_apdu(self):
        self.kill_card_mid_apdu()

    def test_card_program_killed_mid_apdu_then_new_card(self):
        host, client = self.kill_card_mid_apdu()
        self.wait_until("vscclient to report the card removed",
                        lambda: "card removed from" in client.log(), timeout=30)
        # A real vicc in the same slot: a new card, announced to the host.
        self.env.start_vicc(0)
        self.env.wait_card(0)
        self.wait_until("the vicc card to be announced",
                        lambda: client.log().count("card inserted") >= 2, timeout=60)
        self.assertTrue(host.alive())
        self.assertIsNone(client.proc.poll())


if __name__ == "__main__":
    unittest.main()
