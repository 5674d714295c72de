# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared pieces of the guest tests that run vscclient (test_qemu_vscclient.py,
test_qemu_controllers.py): the vscclient processes a test starts, the host's
PC/SC stack, and the checks of the soft card's certificates and signature."""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
from guest_testing import GuestTestCase, guest  # noqa: E402


def vscclient_path():
    build = os.environ.get("VSCARD_BUILD_DIR", "")
    path = os.path.join(build, "vscclient", "vscclient")
    return path if build and os.access(path, os.X_OK) else None


class Vscclient:
    """One vscclient process started by a test; killed by its PID only."""

    def __init__(self, test, args, env=None):
        self.log_path = os.path.join(test.tmp, f"vscclient{len(test.clients)}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([vscclient_path(), *args], stdin=subprocess.PIPE,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env or os.environ, start_new_session=True)
        test.clients.append(self)

    def command(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self.log.close()


class VscclientGuestCase(GuestTestCase):
    """A guest test that starts vscclient processes (stopped at cleanup)."""

    def setUp(self):
        if not vscclient_path():
            self.skipTest("vscclient not built (no $VSCARD_BUILD_DIR/vscclient/vscclient)")
        guest()
        self.tmpdir = tempfile.TemporaryDirectory(prefix="vscard-qemu-")
        self.addCleanup(self.tmpdir.cleanup)
        self.tmp = self.tmpdir.name
        self.clients = []
        self.addCleanup(self._stop_clients)
        # --soft-card keeps its NSS database in the per-user cache directory;
        # give each test its own so the host side can find the certificates.
        self.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(self.tmp, "cache"))

    def _stop_clients(self):
        for c in self.clients:
            c.stop()

    def vscclient(self, *args):
        return Vscclient(self, list(args), env=self.env)

    def assert_soft_card_used(self, result, info_step="info"):
        """The guest's OpenSC saw vscclient --soft-card's CAC card (info,
        objects and sign steps): three certificates, and a signature that
        openssl verifies on the host with the certificate the guest read,
        which is one of the soft card's."""
        self.assertIn("CAC", result.step(info_step).output, result.console)
        objects = result.step("objects").output
        self.assertEqual(len(re.findall(r"Certificate Object", objects)), 3, objects)
        sign = result.step("sign")
        self.assertEqual(sign.rc, 0, result.console)
        fields = dict(re.findall(r"^([a-z-]+): (\S+)$", sign.output, re.M))
        self.assertIn("signature-hex", fields, sign.output)
        self.verify_signature(fields)
        self.assertIn(bytes.fromhex(fields["cert-hex"]), self.soft_card_certificates(),
                      "the guest's certificate is not one of vscclient's soft-card certificates")

    def soft_card_certificates(self):
        """DER of every certificate in the NSS database vscclient --soft-card
        made (in this test's $XDG_CACHE_HOME), read with NSS's certutil."""
        db = "sql:" + os.path.join(self.env["XDG_CACHE_HOME"], "vscard", "soft-card")
        listing = subprocess.run(["certutil", "-L", "-d", db], capture_output=True,
                                 text=True, check=True).stdout
        names = [m.group(1).strip() for m in re.finditer(r"^(\S.*?)[ \t]+\S*,\S*,\S*$",
                                                             listing, re.M)]
        self.assertEqual(len(names), 3, listing)
        return [subprocess.run(["certutil", "-L", "-d", db, "-n", name, "-r"],
                               capture_output=True, check=True).stdout for name in names]

    def verify_signature(self, fields):
        """openssl on the host checks the guest's signature against the
        certificate the guest read from the card (DER, printed as hex)."""
        cert_der = os.path.join(self.tmp, "cert.der")
        with open(cert_der, "wb") as f:
            f.write(bytes.fromhex(fields["cert-hex"]))
        pub = os.path.join(self.tmp, "pub.pem")
        subprocess.run(["openssl", "x509", "-inform", "DER", "-in", cert_der, "-noout",
                        "-pubkey", "-out", pub], check=True, capture_output=True)
        data = os.path.join(self.tmp, "data")
        sig = os.path.join(self.tmp, "sig")
        with open(data, "wb") as f:
            f.write(bytes.fromhex(fields["sign-data-hex"]))
        with open(sig, "wb") as f:
            f.write(bytes.fromhex(fields["signature-hex"]))
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig,
                            data], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Verified OK", r.stdout)

    def host_pcsc(self):
        """Our own pcscd with vpcd's readers on the host (lib/pcsc_env.py)."""
        import pcsc_env
        if "--pcsc" not in subprocess.run([vscclient_path(), "--help"], capture_output=True,
                                          text=True).stdout:
            self.skipTest("vscclient built without --pcsc")
        env = pcsc_env.PcscEnv()
        self.addCleanup(env.close)
        env.start()
        return env, pcsc_env
