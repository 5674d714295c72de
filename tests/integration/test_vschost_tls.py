# SPDX-License-Identifier: LGPL-2.1-or-later
"""vschost --tls-creds with our vscclient --tls-creds, both over GIO TLS: a mutual
TLS session runs a script against the soft card; a client without a certificate
and a client trusting another CA are refused, and vscclient says why.
Certificates come from the openssl command (tests/integration/lib/tls_certs.py)."""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from build_tree import build_dir, program, program_path
import openssl_check
import tls_certs
from vschost_proc import VschostProcess
from vscclient_env import Vscclient

# SELECT the first CAC PKI applet (A0 00 00 00 79 01 00), answered from memory.
# The command carries no Le, so libcacard's card answers 61xx (response bytes
# waiting for GET RESPONSE, ISO/IEC 7816-4 5.3.4), not 9000.
SCRIPT = """wait-card timeout=30s
send 00 A4 04 00 07 A0 00 00 00 79 01 00 expect 61XX
"""


def setUpModule():
    if program("vschost") is None or program("vscclient") is None:
        raise unittest.SkipTest("vschost or vscclient is not built")
    if not openssl_check.available():
        raise unittest.SkipTest("openssl is not installed (package openssl)")


class VschostTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vschost-tls-")
        # The host's directory: ca-cert.pem, server-cert.pem, server-key.pem.
        cls.host_dir = os.path.join(cls.tmp.name, "host")
        tls_certs.make_ca(cls.host_dir, "vscard test CA")
        tls_certs.issue(cls.host_dir, cls.host_dir, "server", "localhost",
                        san="DNS:localhost,IP:127.0.0.1")
        cls.client_mutual = os.path.join(cls.tmp.name, "client-mutual")
        tls_certs.client_dir(cls.host_dir, cls.client_mutual, with_client_cert=True)
        cls.client_no_cert = os.path.join(cls.tmp.name, "client-no-cert")
        tls_certs.client_dir(cls.host_dir, cls.client_no_cert, with_client_cert=False)
        other = os.path.join(cls.tmp.name, "other-ca")
        tls_certs.make_ca(other, "some other CA")
        cls.client_other_ca = os.path.join(cls.tmp.name, "client-other-ca")
        tls_certs.client_dir(other, cls.client_other_ca, with_client_cert=True)
        cls.script = os.path.join(cls.tmp.name, "select.vsc")
        with open(cls.script, "w") as f:
            f.write(SCRIPT)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def host(self, *extra):
        return VschostProcess(["--tls-creds", self.host_dir, *extra])

    def test_mutual_tls_session_runs_script(self):
        with self.host("--once", "--script", self.script, "--timeout", "60") as host, \
                Vscclient(["--soft-card", "--tls-creds", self.client_mutual], host.port) as client:
            status = host.wait(90)
            self.assertEqual(status, 0, host.stderr_text() + host.stdout_text())
            self.assertIn("(TLS)", client.stderr())
            self.assertNotIn("not encrypted", client.stderr())

    def test_relative_credential_directories(self):
        # Both programs are started in the directory that holds the credentials
        # and given it relative, as users type it (QEMU takes relative dirs too).
        with VschostProcess(["--tls-creds", "host", "--once", "--script", self.script,
                             "--timeout", "60"], cwd=self.tmp.name) as host, \
                Vscclient(["--soft-card", "--tls-creds", "client-mutual"], host.port,
                          cwd=self.tmp.name) as client:
            status = host.wait(90)
            self.assertEqual(status, 0, host.stderr_text() + host.stdout_text())
            self.assertIn("(TLS)", client.stderr())
            for text in (host.stderr_text(), client.stderr()):
                self.assertNotIn("absolute path", text)

    def test_client_without_certificate_is_refused(self):
        with self.host() as host, \
                Vscclient(["--soft-card", "--no-reconnect", "--tls-creds", self.client_no_cert],
                          host.port) as client:
            self.assertNotEqual(client.wait(60), 0)
            self.assertIn("certificate", client.stderr().lower())
            self.assertTrue(host.alive(), "vschost must keep serving after a refused client")

    def test_client_trusting_another_ca_is_refused(self):
        with self.host() as host, \
                Vscclient(["--soft-card", "--no-reconnect", "--tls-creds", self.client_other_ca],
                          host.port) as client:
            self.assertNotEqual(client.wait(60), 0)
            err = client.stderr().lower()
            self.assertIn("ca", err, err)
            self.assertTrue(host.alive())

    # --- Issue 18: handshakes that stall, and clients that leave mid-handshake ---

    def client_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(os.path.join(self.client_mutual, "ca-cert.pem"))
        ctx.load_cert_chain(os.path.join(self.client_mutual, "client-cert.pem"),
                            os.path.join(self.client_mutual, "client-key.pem"))
        return ctx

    def client_hello(self):
        """The bytes of a real ClientHello (Python's TLS stack, never sent)."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = self.client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return outgoing.read()

    def handshake_seconds(self, port, limit):
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=limit) as raw:
            with self.client_context().wrap_socket(raw, server_hostname="localhost"):
                return time.monotonic() - start

    def test_stalled_handshakes_do_not_delay_a_real_client(self):
        # 200 connections that say nothing, stop inside their ClientHello, or
        # send a whole ClientHello and stall: none may hold a thread, so a real
        # client still completes its handshake at once (the issue's target is
        # 1 s; 5 s is the margin for a loaded machine. With glib-networking's
        # server handshakes, whole ClientHellos delayed it 9 to 12 s; the
        # figures are tests/bench/tls_stalled_handshakes.py's).
        hello = self.client_hello()
        self.assertEqual(hello[0], 22)
        stalled = []
        with self.host() as host:
            try:
                for i in range(200):
                    s = socket.create_connection(("127.0.0.1", host.port), timeout=10)
                    if i % 3 == 1:
                        s.sendall(hello[:len(hello) // 2])
                    elif i % 3 == 2:
                        s.sendall(hello)
                    stalled.append(s)
                time.sleep(0.5)
                self.assertLess(self.handshake_seconds(host.port, 5.0), 5.0)
            finally:
                for s in stalled:
                    s.close()
            self.assertTrue(host.alive())

    def test_handshakes_count_against_max_clients(self):
        with self.host("--max-clients", "2") as host:
            held = [socket.create_connection(("127.0.0.1", host.port), timeout=10)
                    for _ in range(2)]
            try:
                time.sleep(0.3)
                with socket.create_connection(("127.0.0.1", host.port), timeout=10) as third:
                    third.settimeout(5)
                    self.assertEqual(third.recv(1), b"", "the third connection must be closed")
                deadline = time.monotonic() + 10
                while "TLS handshakes in progress (--max-clients)" not in host.stderr_text() and \
                        time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertIn("TLS handshakes in progress (--max-clients)", host.stderr_text())
            finally:
                for s in held:
                    s.close()

    def test_client_leaving_after_its_hello_is_not_called_non_tls(self):
        with self.host() as host:
            with socket.create_connection(("127.0.0.1", host.port), timeout=10) as s:
                s.sendall(self.client_hello())
                time.sleep(0.3)
            deadline = time.monotonic() + 10
            while "turned away" not in host.stderr_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            err = host.stderr_text()
            self.assertIn("turned away", err)
            self.assertNotIn("does not speak TLS", err)

    def test_orderly_close_sends_close_notify(self):
        # Issue 18: vschost ending a TLS connection (here after undecodable
        # input in multi mode) says so with close_notify, so the client sees a
        # clean end of stream, not an EOF "in violation of protocol".
        with self.host("--mode", "multi") as host:
            with socket.create_connection(("127.0.0.1", host.port), timeout=10) as raw:
                ctx = self.client_context()
                # Python 3.11 ignores a missing close_notify unless told not to.
                ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
                with ctx.wrap_socket(raw, server_hostname="localhost",
                                     suppress_ragged_eofs=False) as s:
                    s.sendall(b"\x00\x00\x00\x07\x00\x00\x00\x00\xff\xff\xff\xff")
                    s.settimeout(10)
                    data = b""
                    while True:
                        chunk = s.recv(4096)  # UNEXPECTED_EOF_WHILE_READING without close_notify
                        if not chunk:
                            break
                        data += chunk

    def test_crl_refuses_a_revoked_client_and_serves_others(self):
        # Issue 18: ca-crl.pem (QEMU's layout) is honoured, not refused.
        if shutil.which("certtool") is None:
            self.skipTest("certtool is not installed (package gnutls-bin)")
        revoked = os.path.join(self.tmp.name, "client-revoked")
        tls_certs.client_dir(self.host_dir, revoked, with_client_cert=True)
        crl_host = os.path.join(self.tmp.name, "host-crl")
        shutil.copytree(self.host_dir, crl_host)
        crl = os.path.join(crl_host, "ca-crl.pem")
        tls_certs.make_crl(self.host_dir, crl, [os.path.join(revoked, "client-cert.pem")])
        with VschostProcess(["--tls-creds", crl_host]) as host, \
                Vscclient(["--soft-card", "--no-reconnect", "--tls-creds", revoked],
                          host.port) as client:
            self.assertNotEqual(client.wait(60), 0)
            deadline = time.monotonic() + 10
            while "revoked" not in host.stderr_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn("the client certificate (serial ", host.stderr_text())
            self.assertIn("is revoked by " + crl, host.stderr_text())
        with VschostProcess(["--tls-creds", crl_host, "--once", "--script", self.script,
                             "--timeout", "60"]) as host, \
                Vscclient(["--soft-card", "--tls-creds", self.client_mutual], host.port):
            self.assertEqual(host.wait(90), 0, host.stderr_text() + host.stdout_text())

    def test_unsigned_crl_is_refused_at_start(self):
        if shutil.which("certtool") is None:
            self.skipTest("certtool is not installed (package gnutls-bin)")
        other = os.path.join(self.tmp.name, "crl-other-ca")
        tls_certs.make_ca(other, "another CA")
        bad_host = os.path.join(self.tmp.name, "host-bad-crl")
        shutil.copytree(self.host_dir, bad_host)
        tls_certs.make_crl(other, os.path.join(bad_host, "ca-crl.pem"), [])
        r = subprocess.run([program_path("vschost"), "--no-interactive", "--tls-creds", bad_host,
                            "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ca-crl.pem: a revocation list in it is not signed by the CA", r.stderr)

    def test_server_only_certificate_is_refused_as_client_certificate(self):
        # A certificate from the right CA but made for servers only
        # (extendedKeyUsage serverAuth) is no client certificate; GIO's
        # handshake refused it, the GnuTLS one let it through until the
        # purpose was given (tls_server_handshake.cc).
        server_only = os.path.join(self.tmp.name, "server-only")
        tls_certs.issue(self.host_dir, server_only, "server", "localhost",
                        san="DNS:localhost,IP:127.0.0.1")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(os.path.join(self.host_dir, "ca-cert.pem"))
        ctx.load_cert_chain(os.path.join(server_only, "server-cert.pem"),
                            os.path.join(server_only, "server-key.pem"))
        with self.host() as host:
            with socket.create_connection(("127.0.0.1", host.port), timeout=10) as raw:
                with self.assertRaises((ssl.SSLError, ConnectionError)):
                    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                        s.sendall(b"\x00\x00\x00\x01\xff\xff\xff\xff\x00\x00\x00\x0cVSCD"
                                  b"\x00\x00\x00\x02\x00\x00\x00\x00")
                        s.recv(100)  # TLS 1.3: the verdict comes after our Finished
            self.assertTrue(host.wait_stderr("not for TLS client authentication"), host.stderr_text())
            self.assertNotIn("connected from", host.stderr_text())

    def test_missing_gnutls_is_said_at_start(self):
        # libvscard opens GnuTLS at first use; without it vschost --tls-creds
        # says so and exits before listening, instead of turning every client
        # away at its handshake. tests/integration/no_gnutls_preload.so makes
        # dlopen() of libgnutls fail (glib-networking, linked to it, still loads).
        shim = os.path.join(build_dir(), "tests", "integration", "no_gnutls_preload.so")
        if not os.path.exists(shim):
            self.skipTest("no_gnutls_preload.so is not built")
        ldd = subprocess.run(["ldd", program_path("vschost")], capture_output=True, text=True).stdout
        if "libasan" in ldd:
            self.skipTest("an LD_PRELOAD shim cannot come before the ASan runtime")
        r = subprocess.run([program_path("vschost"), "--no-interactive", "--tls-creds", self.host_dir,
                            "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL, env=dict(os.environ, LD_PRELOAD=shim))
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn("TLS is not available: GnuTLS (libgnutls.so.30) could not be loaded", r.stderr)
        self.assertNotIn("listening", r.stderr)


if __name__ == "__main__":
    unittest.main()
