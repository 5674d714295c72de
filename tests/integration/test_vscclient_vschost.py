"""vscclient --soft-card against the project's own host, `vschost --mode qemu
--script`: the reader is added, the ATR accepted, a script selects the three CAC
PKI applets, reads their certificate objects and has each key sign; the test then
checks with openssl that every signature verifies with its certificate's key and
that the certificates are the soft card's.

The script is written for this soft card database: the test creates the database
first (a vscclient run), reads the certificates' sizes with certutil, and sizes
the READ BUFFER steps from them.
"""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import cac  # noqa: E402
import openssl_check  # noqa: E402
from vscclient_env import Vscclient, build_dir, vscclient_binary  # noqa: E402

NICKNAMES = ["vscard-soft-id", "vscard-soft-signature", "vscard-soft-encryption"]
SUBJECTS = ["CN=vscard soft card ID,OU=soft-card,O=vscard",
            "CN=vscard soft card signature,OU=soft-card,O=vscard",
            "CN=vscard soft card encryption,OU=soft-card,O=vscard"]


def vschost_binary():
    return os.path.join(build_dir(), "vschost", "vschost")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def hexs(data):
    return " ".join(f"{b:02X}" for b in data)


def signing_block(message):
    info = cac.SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    return b"\x00\x01" + b"\xff" * (256 - 3 - len(info)) + b"\x00" + info


def script_for(cert_sizes, messages):
    lines = ["timeout 20s", 'wait-card "Virtual Reader" timeout=30s']
    for i, (size, message) in enumerate(zip(cert_sizes, messages)):
        lines.append(f"send 00 A4 04 00 07 {hexs(cac.PKI_AIDS[i])} expect 61XX")
        lines.append("send 00 C0 00 00 0D expect * 9000")
        total = 3 + size   # value buffer: 2-byte length, CertInfo byte, certificate
        offset = 0
        while offset < total:
            n = min(0xFF, total - offset)
            lines.append(f"send 80 52 {offset >> 8:02X} {offset & 0xFF:02X} 02 02 {n:02X} "
                         f"expect 61{n:02X}")
            lines.append(f"send 00 C0 00 00 {n:02X} expect * 9000")
            offset += n
        block = signing_block(message)
        lines.append(f"send 80 42 80 00 FF {hexs(block[:0xFF])} expect only 9000")
        lines.append(f"send 80 42 00 00 01 {hexs(block[0xFF:])} 00 expect * 9000")
    return "\n".join(lines) + "\n"


def setUpModule():
    for binary in (vscclient_binary(), vschost_binary()):
        if not os.path.exists(binary):
            raise unittest.SkipTest(f"{binary} is not built")
    if not openssl_check.available() or shutil.which("certutil") is None:
        raise unittest.SkipTest("needs openssl and certutil (packages openssl, libnss3-tools)")


class VschostScriptTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vscclient-vschost-")
        self.addCleanup(self.tmp.cleanup)
        self.cache = os.path.join(self.tmp.name, "cache")
        # Create the soft card database: nothing listens, so vscclient exits 5
        # after its card source has started.
        with Vscclient(["--soft-card", "--no-reconnect"], free_port(), cache_dir=self.cache) as c:
            self.assertEqual(c.wait(), 5, c.stderr())
        db = os.path.join(self.cache, "vscard", "soft-card")
        self.certs = [subprocess.run(["certutil", "-L", "-d", "sql:" + db, "-n", n, "-r"],
                                     check=True, capture_output=True).stdout for n in NICKNAMES]

    def test_soft_card_through_vschost_script(self):
        messages = [f"vschost asks key {i} to sign".encode() for i in range(3)]
        script = os.path.join(self.tmp.name, "cac.vsc")
        with open(script, "w") as f:
            f.write(script_for([len(c) for c in self.certs], messages))
        port = free_port()
        host = subprocess.Popen([vschost_binary(), "--mode", "qemu", "--listen",
                                 f"127.0.0.1:{port}", "--script", script, "--once",
                                 "--report", "json", "--no-interactive", "--timeout", "120"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # vscclient retries until vschost listens.
            with Vscclient(["--soft-card", "--reconnect=1"], port, cache_dir=self.cache):
                out, err = host.communicate(timeout=150)
        finally:
            if host.poll() is None:
                host.kill()
                host.communicate()
        events = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
        self.assertEqual(host.returncode, 0, err.decode()[-3000:])
        readers = [e for e in events if e["event"] == "reader_added"]
        self.assertEqual([r["name"] for r in readers], ["Virtual Reader"])
        cards = [e for e in events if e["event"] == "card_inserted"]
        self.assertTrue(cards and cards[0]["accepted"], cards)
        self.assertIn("T=0", cards[0]["protocols"])
        summary = [e for e in events if e["event"] == "summary"][-1]
        self.assertTrue(summary["ok"], summary)

        # Rebuild what the card said from the APDU events.
        apdus = [(bytes.fromhex(e["command"].replace(" ", "")), bytes.fromhex(e["response"]))
                 for e in events if e["event"] == "apdu"]
        applet, values, signatures, previous = -1, {}, {}, b""
        for command, response in apdus:
            if command[:4] == bytes.fromhex("00A40400"):
                applet += 1
            elif command[:2] == bytes.fromhex("00C0") and previous[:2] == bytes.fromhex("8052"):
                values[applet] = values.get(applet, b"") + response[:-2]
            elif command[:4] == bytes.fromhex("80420000"):
                signatures[applet] = response[:-2]
            previous = command
        for i in range(3):
            der = values[i][3:]
            self.assertEqual(der, self.certs[i], f"applet {i} certificate")
            self.assertEqual(openssl_check.subject(der), SUBJECTS[i])
            self.assertEqual(len(signatures[i]), 256)
            self.assertTrue(openssl_check.verify_sha256(der, messages[i], signatures[i]),
                            f"signature of applet {i} does not verify")


if __name__ == "__main__":
    unittest.main()
