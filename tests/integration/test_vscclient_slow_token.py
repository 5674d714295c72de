# SPDX-License-Identifier: LGPL-2.1-or-later
"""A slow signature on one reader does not stall vscclient's other reader.

Two emulated CAC cards in one vscclient: "Slow Reader" has its keys on a
SoftHSM2 token reached through gated_pkcs11.so (a PKCS#11 module that forwards
to SoftHSM2 and holds C_Sign/C_Decrypt until the test creates a gate file);
"Fast Reader" has its keys in NSS's own database. The host (played here) starts
a signature on the slow card, sees it reach the token, then runs a whole login
and signature on the fast card, and only then opens the gate. The fast card
must answer everything while the slow card's signature is held, and the slow
card must answer once the gate opens. No timing: the order of the answers is
the behaviour (issue 19: work that can block goes to the reader's worker,
docs/architecture.md).
"""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from build_tree import build_dir, program
import cac
import vscard_peer as vp
from vscclient_env import ScriptedHost, Vscclient

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "slow-token"
PIN = b"123456"


def gated_module():
    return os.path.join(build_dir(), "tests", "integration", "gated_pkcs11.so")


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, **kw)


def setUpModule():
    if program("vscclient") is None:
        raise unittest.SkipTest("vscclient is not built")
    if not os.path.exists(gated_module()):
        raise unittest.SkipTest("gated_pkcs11.so is not built (needs NSS headers)")
    for tool in ("certutil", "modutil"):
        if shutil.which(tool) is None:
            raise unittest.SkipTest(f"{tool} is not installed (package libnss3-tools)")
    if not os.path.exists(SOFTHSM_LIB) or shutil.which("softhsm2-util") is None:
        raise unittest.SkipTest("SoftHSM2 is not installed (package softhsm2)")


def sign_apdus():
    """CAC SIGN (80 42) of one 256-byte block in two chained parts
    (libcacard cac.c: P1 80 = more data follows)."""
    block = bytes([0x00, 0x01]) + b"\xff" * 221 + b"\x00" + bytes(range(32))
    assert len(block) == 256
    return [bytes([0x80, 0x42, 0x80, 0x00, 0x80]) + block[:128],
            bytes([0x80, 0x42, 0x00, 0x00, 0x80]) + block[128:] + b"\x00"]


VERIFY = bytes([0x00, 0x20, 0x00, 0x00, 0x08]) + PIN + b"\xff\xff"


def select_pki(i):
    return bytes([0x00, 0xA4, 0x04, 0x00, 0x07]) + cac.PKI_AIDS[i]


class SlowTokenTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vscclient-slow-token-")
        self.addCleanup(self.tmp.cleanup)
        base = self.tmp.name
        db, tokens = os.path.join(base, "db"), os.path.join(base, "tokens")
        os.mkdir(db)
        os.mkdir(tokens)
        conf = os.path.join(base, "softhsm2.conf")
        with open(conf, "w") as f:
            f.write(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
        self.gate = os.path.join(base, "gate")
        self.env = dict(os.environ, SOFTHSM2_CONF=conf, GATED_PKCS11_TARGET=SOFTHSM_LIB)
        run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--so-pin",
             "12345678", "--pin", PIN.decode()], env=self.env)
        run(["certutil", "-N", "-d", "sql:" + db, "--empty-password"], env=self.env)
        run(["modutil", "-dbdir", "sql:" + db, "-add", "gated", "-libfile", gated_module(),
             "-force"], input=b"\n", env=self.env)
        noise = os.path.join(base, "noise")
        with open(noise, "wb") as f:
            f.write(os.urandom(64))
        pin = os.path.join(base, "pin")
        with open(pin, "w") as f:
            f.write(PIN.decode() + "\n")
        common = ["-x", "-t", ",,", "-k", "rsa", "-g", "2048", "-z", noise]
        run(["certutil", "-S", "-d", "sql:" + db, "-h", TOKEN, "-f", pin, "-n", "slow-id",
             "-s", "CN=vscard slow token"] + common + ["-m", "1"], env=self.env)
        run(["certutil", "-S", "-d", "sql:" + db, "-n", "fast-id", "-s", "CN=vscard fast"]
            + common + ["-m", "2"], env=self.env)
        self.public_certs(db)
        self.args = ["-e", f'use_hw=no db="sql:{db}",'
                           f'soft=({TOKEN},Slow Reader,CAC,,{TOKEN}:slow-id),'
                           'soft=(,Fast Reader,CAC,,fast-id)']

    def public_certs(self, db):
        # Without the PublicCerts slot flag NSS asks for the token's PIN before
        # it lists its certificates, and libcacard (no password callback) finds
        # none (the same step as tests/bench/reference_compare.py).
        listing = run(["modutil", "-dbdir", "sql:" + db, "-list"], env=self.env).stdout.decode()
        lines, slot = listing.splitlines(), None
        for i, line in enumerate(lines):
            if line.strip() == f"token: {TOKEN}" and i > 0 and "slot ID" in lines[i - 1]:
                slot = lines[i - 1].split("slot ID")[1].strip()
        self.assertIsNotNone(slot, listing)
        config = os.path.join(db, "pkcs11.txt")
        with open(config) as f:
            text = f.read()
        text = text.replace("name=gated\n",
                            f"name=gated\nNSS=slotParams={{{slot}=[slotFlags=PublicCerts]}}\n")
        with open(config, "w") as f:
            f.write(text)

    def test_slow_signature_does_not_stall_the_other_reader(self):
        env = dict(self.env, GATED_PKCS11_GATE=self.gate)
        with ScriptedHost() as host, Vscclient(self.args, host.port, env=env) as client:
            peer = host.accept(timeout=60)
            peer.expect(vp.INIT, timeout=60)
            peer.send(vp.init())
            readers, atrs, answers = {}, set(), []

            def handle(message):
                """Answers announcements; keeps APDU answers in arrival order."""
                mtype, rid, payload = message
                if mtype == vp.READER_ADD:
                    readers[payload.rstrip(b"\0").decode()] = len(readers)
                    peer.send(vp.error(vp.SUCCESS, len(readers) - 1))
                elif mtype == vp.ATR:
                    atrs.add(rid)
                    peer.send(vp.error(vp.SUCCESS, rid))
                elif mtype == vp.APDU:
                    answers.append((rid, payload))
                else:
                    self.fail(f"unexpected message {message} ({client.stderr()})")

            while len(atrs) < 2:
                handle(peer.recv(timeout=60))
            self.assertEqual(set(readers), {"Slow Reader", "Fast Reader"}, client.stderr())
            slow, fast = readers["Slow Reader"], readers["Fast Reader"]

            def xfr(rid, apdu):
                """Sends `apdu` to `rid` and waits for that reader's answer;
                an answer of the other reader arriving meanwhile is kept."""
                before = len(answers)
                peer.send(vp.apdu(apdu, rid))
                while not any(r == rid for r, _ in answers[before:]):
                    handle(peer.recv(timeout=60))
                return [p for r, p in answers[before:] if r == rid][-1]

            first, last = sign_apdus()
            self.assertIn(xfr(slow, select_pki(0))[-2], (0x90, 0x61))
            self.assertEqual(xfr(slow, VERIFY)[-2:], b"\x90\x00", client.stderr())
            self.assertEqual(xfr(slow, first)[-2:], b"\x90\x00")
            # The last part goes to the token's C_Sign/C_Decrypt, which holds it.
            held_from = len(answers)
            peer.send(vp.apdu(last, slow))
            deadline = time.monotonic() + 60
            while not os.path.exists(self.gate + ".entered"):
                self.assertLess(time.monotonic(), deadline, "the signature never reached the token")
                time.sleep(0.05)

            # Meanwhile the fast card logs in and signs, start to end.
            self.assertIn(xfr(fast, select_pki(0))[-2], (0x90, 0x61))
            self.assertEqual(xfr(fast, VERIFY)[-2:], b"\x90\x00")
            self.assertEqual(xfr(fast, first)[-2:], b"\x90\x00")
            signed = xfr(fast, last)
            self.assertIn(signed[-2], (0x90, 0x61), signed.hex())
            self.assertFalse(os.path.exists(self.gate))
            self.assertEqual([r for r, _ in answers[held_from:]], [fast] * 4,
                             "the slow card answered before its gate opened")

            open(self.gate, "w").close()
            while not any(r == slow for r, _ in answers[held_from:]):
                handle(peer.recv(timeout=60))
            held = [p for r, p in answers[held_from:] if r == slow][0]
            self.assertIn(held[-2], (0x90, 0x61), held.hex())
            self.assertIsNone(client.proc.poll(), client.stderr())


if __name__ == "__main__":
    unittest.main()
