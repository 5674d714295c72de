# SPDX-License-Identifier: LGPL-2.1-or-later
"""One --soft-card session through vschost, shared by test_vscclient_vschost.py
and the README demo (tests/demo/soft_card_demo.py).

    run = SoftCardRun(build_dir, workdir)
    result = run.run()          # vschost --mode qemu --script + vscclient --soft-card
    result.readers, result.atr, result.certificates, result.signatures_ok ...

The script is written for this soft card database: the run creates the database
first (a vscclient run with nothing to connect to), reads the certificates with
certutil, and sizes the READ BUFFER steps from them.
"""
import hashlib
import json
import os
import subprocess

import cac
import openssl_check
from ports import free_port
import processes

NICKNAMES = ["vscard-soft-id", "vscard-soft-signature", "vscard-soft-encryption"]


def hexs(data):
    return " ".join(f"{b:02X}" for b in data)


def signing_block(message):
    """PKCS#1 v1.5 block of SHA-256(message), as the card's raw RSA key expects it."""
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


class Result:
    def __init__(self):
        self.host_status = None
        self.host_stderr = ""
        self.client_stderr = ""
        self.events = []
        self.readers = []          # names from ReaderAdd
        self.card = None           # the card_inserted event (atr, accepted, protocols)
        self.summary = None        # vschost's summary event
        self.applets = []          # AIDs selected with 61XX/9000
        self.certificates = []     # DER, in applet order
        self.signatures = []       # raw RSA results, in applet order
        self.messages = []


class SoftCardRun:
    def __init__(self, build_dir, workdir, bindir=None):
        """bindir: run the installed programs found there instead of the build's."""
        self.vscclient = os.path.join(bindir or os.path.join(build_dir, "vscclient"), "vscclient")
        self.vschost = os.path.join(bindir or os.path.join(build_dir, "vschost"), "vschost")
        self.workdir = workdir
        self.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(workdir, "cache"))
        self.env.pop("G_MESSAGES_DEBUG", None)

    def ensure_database(self):
        """Creates the soft card database and returns the three DER certificates."""
        r = subprocess.run([self.vscclient, "--soft-card", "--no-reconnect", "127.0.0.1",
                            str(free_port())], env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=120)
        if r.returncode != 5:   # 5: nothing to connect to, after the card source started
            raise RuntimeError(f"vscclient --soft-card failed ({r.returncode}): "
                               f"{r.stderr.decode()}")
        db = os.path.join(self.env["XDG_CACHE_HOME"], "vscard", "soft-card")
        return [subprocess.run(["certutil", "-L", "-d", "sql:" + db, "-n", n, "-r"],
                               check=True, capture_output=True).stdout for n in NICKNAMES]

    def run(self):
        result = Result()
        expected = self.ensure_database()
        result.messages = [f"vschost asks key {i} to sign".encode() for i in range(3)]
        script = os.path.join(self.workdir, "cac.vsc")
        with open(script, "w") as f:
            f.write(script_for([len(c) for c in expected], result.messages))
        port = free_port()
        host = subprocess.Popen([self.vschost, "--mode", "qemu", "--listen",
                                 f"127.0.0.1:{port}", "--script", script, "--once",
                                 "--report", "json", "--no-interactive", "--timeout", "120"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        client_err = os.path.join(self.workdir, "vscclient.stderr")
        with open(client_err, "wb") as err_file:
            # vscclient retries until vschost listens.
            client = subprocess.Popen([self.vscclient, "--soft-card", "--reconnect=1",
                                       "127.0.0.1", str(port)], env=self.env,
                                      stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=err_file)
            try:
                out, err = host.communicate(timeout=150)
            finally:
                for p in (host, client):
                    processes.kill(p)
                client.stdin.close()
        with open(client_err, "rb") as f:
            result.client_stderr = f.read().decode(errors="replace")
        result.host_status = host.returncode
        result.host_stderr = err.decode(errors="replace")
        result.events = [json.loads(line) for line in out.decode().splitlines()
                         if line.startswith("{")]
        self._read_events(result)
        return result

    @staticmethod
    def _read_events(result):
        ev = result.events
        result.readers = [e["name"] for e in ev if e["event"] == "reader_added"]
        cards = [e for e in ev if e["event"] == "card_inserted"]
        result.card = cards[0] if cards else None
        summaries = [e for e in ev if e["event"] == "summary"]
        result.summary = summaries[-1] if summaries else None
        values, previous = {}, b""
        applet = -1
        for e in ev:
            if e["event"] != "apdu":
                continue
            command = bytes.fromhex(e["command"].replace(" ", ""))
            response = bytes.fromhex(e["response"])
            if command[:4] == bytes.fromhex("00A40400"):
                applet += 1
                if response[-2:-1] in (b"\x61", b"\x90"):
                    result.applets.append(command[5:5 + command[4]])
            elif command[:2] == bytes.fromhex("00C0") and previous[:2] == bytes.fromhex("8052"):
                values[applet] = values.get(applet, b"") + response[:-2]
            elif command[:4] == bytes.fromhex("80420000"):
                result.signatures.append(response[:-2])
            previous = command
        result.certificates = [values[i][3:] for i in sorted(values)]

    @staticmethod
    def verify(result):
        """[(subject, signature verifies)] per applet, checked with openssl."""
        return [(openssl_check.subject(der), openssl_check.verify_sha256(der, m, s))
                for der, m, s in zip(result.certificates, result.messages, result.signatures)]
