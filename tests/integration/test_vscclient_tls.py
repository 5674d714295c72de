# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient over TLS (--tls-creds, QEMU's tls-creds-x509 file layout) to a host
played by the test with Python's ssl module: server-only TLS, mutual TLS, and the
failures (unknown CA, wrong name, missing client certificate) with their messages.
Certificates come from the openssl command (package openssl); GIO's TLS backend is
glib-networking."""
import os
import shutil
import ssl
import tempfile
import threading
import unittest

from build_tree import program
import cac
import openssl_check
import tls_certs
from vscclient_env import ScriptedHost, Vscclient, host_handshake


def setUpModule():
    if program("vscclient") is None:
        raise unittest.SkipTest("vscclient is not built")
    if not openssl_check.available():
        raise unittest.SkipTest("openssl is not installed (package openssl)")
    if not os.path.exists("/usr/lib/x86_64-linux-gnu/gio/modules/libgiognutls.so") and \
            not any("gio/modules" in r for r, _, fs in os.walk("/usr/lib") if "libgiognutls.so" in fs):
        raise unittest.SkipTest("GIO has no TLS backend (package glib-networking)")


class TlsHost(ScriptedHost):
    def __init__(self, pki, require_client_cert):
        super().__init__()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(pki, "server-cert.pem"),
                                 os.path.join(pki, "server-key.pem"))
        if require_client_cert:
            self.ctx.load_verify_locations(os.path.join(pki, "ca-cert.pem"))
            self.ctx.verify_mode = ssl.CERT_REQUIRED

    def accept_tls(self, timeout=20.0):
        peer = self.accept(timeout)
        peer.sock = self.ctx.wrap_socket(peer.sock, server_side=True)
        return peer


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vscclient-tls-")
        cls.ca = os.path.join(cls.tmp.name, "ca")
        tls_certs.make_ca(cls.ca, "vscard test CA")
        tls_certs.issue(cls.ca, cls.ca, "server", "localhost",
                        san="DNS:localhost,IP:127.0.0.1")
        cls.client_plain = os.path.join(cls.tmp.name, "client-plain")
        tls_certs.client_dir(cls.ca, cls.client_plain, with_client_cert=False)
        cls.client_mutual = os.path.join(cls.tmp.name, "client-mutual")
        tls_certs.client_dir(cls.ca, cls.client_mutual, with_client_cert=True)
        other = os.path.join(cls.tmp.name, "other-ca")
        tls_certs.make_ca(other, "some other CA")
        cls.client_wrong_ca = os.path.join(cls.tmp.name, "client-wrong-ca")
        tls_certs.client_dir(other, cls.client_wrong_ca, with_client_cert=False)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def serve_in_thread(self, host, fn):
        """Runs fn(host) in a thread (the TLS handshake blocks); returns its errors."""
        errors = []

        def body():
            try:
                fn(host)
            except Exception as e:  # reported by the test
                errors.append(e)
        t = threading.Thread(target=body, daemon=True)
        t.start()
        return t, errors

    def test_tls_server_auth(self):
        with TlsHost(self.ca, False) as host, \
                Vscclient(["--soft-card", "--tls-creds", self.client_plain], host.port) as c:
            peer = host.accept_tls()
            name, _ = host_handshake(peer)
            self.assertEqual(name, "Virtual Reader")
            _, sw = cac.select(peer, cac.PKI_AIDS[0])
            self.assertEqual(sw, b"\x90\x00")
            c.wait_output("(TLS)", stream="stderr")
            self.assertNotIn("not encrypted", c.stderr())

    def test_mutual_tls(self):
        with TlsHost(self.ca, True) as host, \
                Vscclient(["--soft-card", "--tls-creds", self.client_mutual], host.port) as c:
            peer = host.accept_tls()
            host_handshake(peer)
            self.assertEqual(peer.sock.getpeercert()["subject"][0][0][1], "vscclient test client")
            self.assertIsNone(c.proc.poll())

    def test_tls_hostname(self):
        # Connecting by address 127.0.0.1 while naming the certificate's DNS name.
        with TlsHost(self.ca, False) as host, \
                Vscclient(["--soft-card", "--tls-creds", self.client_plain,
                           "--tls-hostname", "localhost"], host.port) as c:
            host_handshake(host.accept_tls())
            self.assertIsNone(c.proc.poll())

    def test_unknown_ca_is_permanent_failure(self):
        with TlsHost(self.ca, False) as host, \
                Vscclient(["--soft-card", "--tls-creds", self.client_wrong_ca], host.port) as c:
            t, _ = self.serve_in_thread(host, lambda h: h.accept_tls())
            self.assertEqual(c.wait(), 5)
            self.assertIn("not retrying", c.stderr())
            t.join(5)

    def test_wrong_name_is_permanent_failure(self):
        with TlsHost(self.ca, False) as host, \
                Vscclient(["--soft-card", "--tls-creds", self.client_plain,
                           "--tls-hostname", "qemu.example"], host.port) as c:
            t, _ = self.serve_in_thread(host, lambda h: h.accept_tls())
            self.assertEqual(c.wait(), 5)
            self.assertIn("not retrying", c.stderr())
            t.join(5)

    def test_missing_client_certificate_is_refused_by_host(self):
        with TlsHost(self.ca, True) as host, \
                Vscclient(["--soft-card", "--no-reconnect", "--tls-creds", self.client_plain],
                          host.port) as c:
            t, errors = self.serve_in_thread(host, lambda h: host_handshake(h.accept_tls()))
            self.assertNotEqual(c.wait(), 0)
            t.join(10)
            self.assertTrue(errors, "the host must refuse a client without a certificate")
            self.assertTrue(c.stderr().strip(), "vscclient says why it stopped")

    def test_expired_server_certificate_is_named(self):
        # Issue 18: the expired-certificate message had no test.
        if shutil.which("certtool") is None:
            self.skipTest("certtool is not installed (package gnutls-bin)")
        expired = os.path.join(self.tmp.name, "expired")
        tls_certs.issue_expired(self.ca, expired, "server", "localhost")
        with TlsHost(expired, False) as host, \
                Vscclient(["--soft-card", "--tls-creds", self.client_plain], host.port) as c:
            t, _ = self.serve_in_thread(host, lambda h: h.accept_tls())
            self.assertEqual(c.wait(), 5)
            self.assertIn("the server certificate has expired", c.stderr())
            self.assertIn("not retrying", c.stderr())
            t.join(5)

    def test_crl_revoking_the_server_is_named(self):
        # Issue 18: vscclient honours ca-crl.pem too.
        if shutil.which("certtool") is None:
            self.skipTest("certtool is not installed (package gnutls-bin)")
        client = os.path.join(self.tmp.name, "client-crl")
        tls_certs.client_dir(self.ca, client, with_client_cert=False)
        crl = os.path.join(client, "ca-crl.pem")
        tls_certs.make_crl(self.ca, crl, [os.path.join(self.ca, "server-cert.pem")])
        with TlsHost(self.ca, False) as host, \
                Vscclient(["--soft-card", "--tls-creds", client], host.port) as c:
            t, _ = self.serve_in_thread(host, lambda h: h.accept_tls())
            self.assertNotEqual(c.wait(), 0)
            self.assertIn("the server certificate (serial ", c.stderr())
            self.assertIn("is revoked by " + crl, c.stderr())
            t.join(5)

    def test_missing_credentials_directory(self):
        with Vscclient(["--soft-card", "--tls-creds", "/nonexistent/tls"], 1) as c:
            self.assertEqual(c.wait(), 1)
            self.assertIn("TLS credentials: /nonexistent/tls", c.stderr())


if __name__ == "__main__":
    unittest.main()
