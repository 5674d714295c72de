# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient names TLS mismatches and refusals against the real vschost (GIO TLS
on both sides), and stops where retrying cannot help (vscclient(1), EXIT STATUS):
- a plaintext client against a TLS host: named, with the option to add; retried
  quietly (one warning), since a host may also close for other reasons;
- a TLS client against a plaintext host (vschost without --tls-creds, QEMU's
  chardev without tls-creds, a listener that never speaks): named once no byte
  answers the hello for kTlsHelloAnswerBound (5 s), well before the Connector's
  20 s attempt timeout, with the option to drop; vschost names it too;
- the host refuses our client certificate (none, or from a CA it does not trust):
  one error line naming the files to fix, exit 5, no retry;
- our CA does not vouch for the host's certificate: one error line, exit 5.
Certificates come from the openssl command (tests/integration/lib/tls_certs.py)."""
import os
import shutil
import socket
import tempfile
import threading
import time
import unittest

from build_tree import program
import openssl_check
from qemu_passthru import QemuPassthru, QemuUnavailable
import tls_certs
from vschost_proc import VschostProcess
from vscclient_env import Vscclient


def setUpModule():
    if program("vschost") is None or program("vscclient") is None:
        raise unittest.SkipTest("vschost or vscclient is not built")
    if not openssl_check.available():
        raise unittest.SkipTest("openssl is not installed (package openssl)")


def lines(text, kind):
    return [line for line in text.splitlines() if line.startswith(f"vscclient: {kind}: ")]


class TlsDiagnosisTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vscclient-tls-diagnosis-")
        t = cls.tmp.name
        cls.host_dir = os.path.join(t, "host")
        tls_certs.make_ca(cls.host_dir, "vscard test CA")
        tls_certs.issue(cls.host_dir, cls.host_dir, "server", "localhost",
                        san="DNS:localhost,IP:127.0.0.1")
        cls.client_mutual = os.path.join(t, "client-mutual")
        tls_certs.client_dir(cls.host_dir, cls.client_mutual, with_client_cert=True)
        cls.client_no_cert = os.path.join(t, "client-no-cert")
        tls_certs.client_dir(cls.host_dir, cls.client_no_cert, with_client_cert=False)
        other = os.path.join(t, "other-ca")
        tls_certs.make_ca(other, "some other CA")
        cls.client_other_ca = os.path.join(t, "client-other-ca")
        tls_certs.client_dir(other, cls.client_other_ca, with_client_cert=True)
        # Trusts the host's CA, but its own certificate comes from another CA.
        cls.client_foreign_cert = os.path.join(t, "client-foreign-cert")
        os.makedirs(cls.client_foreign_cert)
        shutil.copy(os.path.join(cls.host_dir, "ca-cert.pem"), cls.client_foreign_cert)
        for name in ("client-cert.pem", "client-key.pem"):
            shutil.copy(os.path.join(cls.client_other_ca, name), cls.client_foreign_cert)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_plaintext_client_against_tls_host_is_named_once(self):
        with VschostProcess(["--tls-creds", self.host_dir]) as host, \
                Vscclient(["--soft-card", "--reconnect=1"], host.port) as c:
            c.wait_output("add --tls-creds DIR", stream="stderr")
            time.sleep(3)   # more attempts, each refused the same way
            self.assertIsNone(c.proc.poll(), c.stderr())
            err = c.stderr()
        warnings = lines(err, "warning")
        self.assertEqual(len(warnings), 1, err)
        self.assertIn("a host that expects TLS does this to a plaintext client", warnings[0])

    # The hello bound (libvscard/src/transport/tls_handshake.h) plus slack for
    # a loaded machine, still well under the attempt timeout (20 s).
    NAMED_WITHIN = 12

    def assert_named_as_plaintext(self, port):
        started = time.monotonic()
        with Vscclient(["--soft-card", "--no-reconnect", "--tls-creds", self.client_mutual],
                       port) as c:
            self.assertEqual(c.wait(60), 5, c.stderr())
            errors = lines(c.stderr(), "error")
        self.assertLess(time.monotonic() - started, self.NAMED_WITHIN, errors)
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("sent nothing in 5 s after our TLS hello", errors[0])
        self.assertIn("may be a plaintext VSCard host", errors[0])
        self.assertIn("drop --tls-creds", errors[0])
        self.assertIn("tls-creds on the chardev", errors[0])

    def test_tls_client_against_plaintext_vschost_is_named(self):
        # vschost, like QEMU, reads our TLS hello as a VSCard header and waits
        # for the rest.
        with VschostProcess([]) as host:
            self.assert_named_as_plaintext(host.port)
            # The host's side of the same mismatch (HostSession's Closed reason).
            host.wait_stderr("the client began with a TLS hello (16 03...): a TLS client on a "
                             "plaintext host")

    def test_tls_client_against_plaintext_qemu_is_named(self):
        try:
            qemu = QemuPassthru()
            qemu.start()
        except QemuUnavailable as e:
            self.skipTest(str(e))
        self.addCleanup(qemu.stop)
        self.assert_named_as_plaintext(qemu.port)

    def test_tls_client_against_a_silent_listener_is_named(self):
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        accepted = []

        def accept():
            conn, _ = listener.accept()
            accepted.append(conn)
            while conn.recv(4096):
                pass

        threading.Thread(target=accept, daemon=True).start()
        self.assert_named_as_plaintext(listener.getsockname()[1])
        for conn in accepted:
            conn.close()

    def test_tls_host_closing_before_its_hello_is_not_called_plaintext(self):
        # A TLS host that turns a client away closes before its server hello;
        # GIO calls that "not TLS", which would send the user to drop
        # --tls-creds on both sides for nothing.
        with VschostProcess(["--tls-creds", self.host_dir, "--max-clients", "1"]) as host, \
                Vscclient(["--soft-card", "--tls-creds", self.client_mutual], host.port) as first:
            self.assertTrue(host.wait_stderr("client 1 connected"), host.stderr_text())
            first.wait_output("host accepted reader", stream="stderr")
            with Vscclient(["--soft-card", "--no-reconnect", "--tls-creds", self.client_mutual],
                           host.port) as second:
                second.wait(60)
                errors = lines(second.stderr(), "error")
            self.assertIsNone(first.proc.poll(), first.stderr())
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("closed the connection before answering our TLS hello", errors[0])
        self.assertNotIn("does not speak TLS", errors[0])

    def test_retried_quietly_with_reconnect_on(self):
        # Default options: a host may also stay silent for other reasons, so
        # vscclient keeps trying, with the one warning of the streak.
        with VschostProcess([]) as host, \
                Vscclient(["--soft-card", "--reconnect=1", "--tls-creds", self.client_mutual],
                          host.port) as c:
            c.wait_output("may be a plaintext VSCard host", stream="stderr", timeout=30)
            self.assertIsNone(c.proc.poll(), c.stderr())
            warnings = lines(c.stderr(), "warning")
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("drop --tls-creds", warnings[0])

    def assert_refused_once(self, creds, *texts):
        # Default options (reconnect on): a refusal still ends vscclient.
        with VschostProcess(["--tls-creds", self.host_dir]) as host, \
                Vscclient(["--soft-card", "--tls-creds", creds], host.port) as c:
            self.assertEqual(c.wait(60), 5, c.stderr())
            err = c.stderr()
            self.assertTrue(host.alive())
        errors = lines(err, "error")
        self.assertEqual(len(errors), 1, err)
        self.assertIn("not retrying", errors[0])
        for text in texts:
            self.assertIn(text, errors[0])
        self.assertEqual(err.count("connected to"), 1 if "client certificate" in errors[0] else 0,
                         err)

    def test_host_refusing_a_missing_client_certificate_ends_with_exit_5(self):
        self.assert_refused_once(self.client_no_cert, "refused our client certificate",
                                 "client-cert.pem and client-key.pem", self.client_no_cert)

    def test_host_refusing_a_foreign_client_certificate_ends_with_exit_5(self):
        self.assert_refused_once(self.client_foreign_cert, "refused our client certificate",
                                 self.client_foreign_cert)

    def test_our_ca_refusing_the_host_ends_with_exit_5(self):
        self.assert_refused_once(self.client_other_ca, "unknown CA",
                                 "put the CA that signed the host's certificate into " +
                                 self.client_other_ca + "/ca-cert.pem")


if __name__ == "__main__":
    unittest.main()
