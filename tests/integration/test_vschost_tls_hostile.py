# SPDX-License-Identifier: LGPL-2.1-or-later
"""vschost's TLS server (GnuTLS driven on the main loop, gnutls_stream.cc)
against clients that use TLS in ways vscclient does not: several records in
one write, a 64 KiB message in one write, a TLS 1.3 KeyUpdate mid-session, a
TLS 1.2 renegotiation request, a close without close_notify, a TCP reset, a
fatal alert, and close_notify while vschost still has replies to write. Each must get a defined outcome:
the messages answered, or the connection ended with a line saying why, and
vschost serving the next client either way.

The client is Python's ssl module over memory BIOs, so the test decides how
records are grouped into TCP writes; KeyUpdate and renegotiation come from
`openssl s_client` (its K and R commands), which Python's ssl cannot send."""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from build_tree import program
import openssl_check
import tls_certs
from vschost_proc import VschostProcess
from vscard_peer import APDU, ERROR, INIT, SUCCESS, Decoder, PeerClosed, describe, init, msg, reader_add

SUCCESS_PAYLOAD = SUCCESS.to_bytes(4, "big")


def setUpModule():
    if program("vschost") is None:
        raise unittest.SkipTest("vschost is not built")
    if not openssl_check.available():
        raise unittest.SkipTest("openssl is not installed (package openssl)")


class RecordClient:
    """A TLS client whose records go out exactly as the test groups them:
    write_records() encrypts each chunk as its own record(s) and sends them
    all in one TCP write."""

    def __init__(self, context, port, rcvbuf=None):
        self.raw = socket.socket()
        if rcvbuf:
            self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.raw.settimeout(10)
        self.raw.connect(("127.0.0.1", port))
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.decoder = Decoder()
        self.pending = []
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                self.feed(self.raw.recv(65536))
        self.flush()

    def flush(self):
        data = self.outgoing.read()
        if data:
            self.raw.sendall(data)

    def feed(self, data):
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()

    def write_records(self, *chunks):
        for chunk in chunks:
            self.tls.write(chunk)
        self.flush()

    def recv(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not self.pending:
            try:
                data = self.tls.read(65536)
                if not data:
                    raise PeerClosed("vschost closed the connection")
                self.decoder.feed(data)
                self.pending += self.decoder.messages()
                continue
            except ssl.SSLWantReadError:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("no message before the deadline")
            self.raw.settimeout(remaining)
            self.feed(self.raw.recv(65536))
        return self.pending.pop(0)

    def send_close_notify(self):
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass  # vschost's close_notify is not awaited
        self.flush()

    def close(self):
        self.raw.close()

    def reset(self):
        """Ends the connection with a TCP reset (SO_LINGER 0), no TLS alert."""
        self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.raw.close()

    def send_fatal_alert(self):
        """Makes our TLS stack send the fatal alert bad_record_mac (RFC 8446
        6.2): a forged application-data record is put before it as if vschost
        had sent it, and the alert it provokes goes to vschost."""
        self.incoming.write(b"\x17\x03\x03\x00\x20" + os.urandom(32))
        try:
            self.tls.read(100)
        except ssl.SSLError:
            pass
        self.flush()


class SClient:
    """openssl s_client with its command letters on (no -quiet): a line "K"
    sends a TLS 1.3 KeyUpdate asking for the peer's, "R" asks a TLS 1.2
    server to renegotiate. Other input goes to the server as written."""

    def __init__(self, port, creds, *extra):
        argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief",
                "-CAfile", os.path.join(creds, "ca-cert.pem"),
                "-cert", os.path.join(creds, "client-cert.pem"),
                "-key", os.path.join(creds, "client-key.pem"), *extra]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out, self.err = bytearray(), bytearray()
        self.lock = threading.Lock()
        for stream, buf in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._collect, args=(stream, buf), daemon=True).start()

    def _collect(self, stream, buf):
        while True:
            data = os.read(stream.fileno(), 65536)
            if not data:
                return
            with self.lock:
                buf += data

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(bytes(self.out), self.err.decode(errors="replace")):
                    return True
            time.sleep(0.05)
        return False

    def write(self, data):
        """Writes to s_client's input; False if it has ended."""
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            return True
        except BrokenPipeError:
            return False

    def messages(self):
        with self.lock:
            decoder = Decoder()
            decoder.feed(bytes(self.out))
            return decoder.messages()

    def stderr(self):
        with self.lock:
            return self.err.decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


class VschostTlsHostileClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vschost-tls-hostile-")
        cls.host_dir = os.path.join(cls.tmp.name, "host")
        tls_certs.make_ca(cls.host_dir, "vscard test CA")
        tls_certs.issue(cls.host_dir, cls.host_dir, "server", "localhost",
                        san="DNS:localhost,IP:127.0.0.1")
        cls.client_dir = os.path.join(cls.tmp.name, "client")
        tls_certs.client_dir(cls.host_dir, cls.client_dir, with_client_cert=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.host = VschostProcess(["--tls-creds", self.host_dir])
        self.host.start()
        self.addCleanup(self.host.stop)

    def context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(os.path.join(self.client_dir, "ca-cert.pem"))
        ctx.load_cert_chain(os.path.join(self.client_dir, "client-cert.pem"),
                            os.path.join(self.client_dir, "client-key.pem"))
        return ctx

    def client(self, rcvbuf=None):
        c = RecordClient(self.context(), self.host.port, rcvbuf)
        self.addCleanup(c.close)
        return c

    def expect(self, client, mtype, payload=None):
        m = client.recv()
        self.assertEqual(m[0], mtype, describe(msg(*m)))
        if payload is not None:
            self.assertEqual(m[2], payload, describe(msg(*m)))
        return m

    def assert_serves_next_client(self):
        self.assertTrue(self.host.alive(), self.host.stderr_text())
        c = self.client()
        c.write_records(init())
        self.expect(c, INIT)
        c.write_records(reader_add(b"next"))
        self.expect(c, ERROR, SUCCESS_PAYLOAD)

    def test_several_records_in_one_write_are_all_answered(self):
        # Four records in one TCP write, then the client waits: every one is
        # read although the socket is readable only once.
        c = self.client()
        c.write_records(init(), reader_add(b"one"), reader_add(b"two"), reader_add(b"three"))
        self.expect(c, INIT)
        for _ in range(3):
            self.expect(c, ERROR, SUCCESS_PAYLOAD)

    def test_message_of_64_kib_in_one_write(self):
        # The largest message (12 + 65524 bytes, QEMU's whole buffer) spans
        # five TLS records; the ReaderAdd after it in the same write is answered.
        c = self.client()
        c.write_records(init())
        self.expect(c, INIT)
        c.write_records(msg(APDU, 0, bytes(65536 - 12)) + reader_add(b"after"))
        self.expect(c, ERROR, SUCCESS_PAYLOAD)

    def test_key_update_mid_session(self):
        # RFC 8446 4.6.3: the client updates its keys and asks for ours; vschost
        # must read on with the new keys and answer with its own new ones.
        s = SClient(self.host.port, self.client_dir, "-tls1_3")
        self.addCleanup(s.stop)
        self.assertTrue(s.wait_for(lambda out, err: "CONNECTION ESTABLISHED" in err), s.stderr())
        s.write(init())
        self.assertTrue(s.wait_for(lambda out, err: any(m[0] == INIT for m in self._decode(out))),
                        s.stderr())
        s.write(b"K\n")
        self.assertTrue(s.wait_for(lambda out, err: "KEYUPDATE" in err), s.stderr())
        time.sleep(0.2)  # the K line and the next message are separate reads for s_client
        s.write(reader_add(b"after key update"))
        self.assertTrue(s.wait_for(lambda out, err: any(m[0] == ERROR for m in self._decode(out))),
                        s.stderr() + self.host.stderr_text())
        self.assertEqual([m for m in s.messages() if m[0] == ERROR][0][2], SUCCESS_PAYLOAD)
        self.assertIsNone(s.proc.poll(), s.stderr())
        self.assert_serves_next_client()

    @staticmethod
    def _decode(out):
        d = Decoder()
        d.feed(out)
        return d.messages()

    def test_renegotiation_request_ends_the_connection_with_a_reason(self):
        # TLS 1.2 renegotiation (RFC 5746) is not offered: the connection ends,
        # vschost says why, and serves the next client.
        s = SClient(self.host.port, self.client_dir, "-tls1_2")
        self.addCleanup(s.stop)
        self.assertTrue(s.wait_for(lambda out, err: "CONNECTION ESTABLISHED" in err), s.stderr())
        s.write(init())
        self.assertTrue(s.wait_for(lambda out, err: any(m[0] == INIT for m in self._decode(out))),
                        s.stderr())
        s.write(b"R\n")
        self.assertTrue(self.host.wait_stderr("client 1 disconnected: ", 15), self.host.stderr_text())
        s.proc.wait(15)  # s_client ends with the connection, it does not hang
        self.assert_serves_next_client()

    def test_close_without_close_notify_mid_message(self):
        c = self.client()
        c.write_records(init())
        self.expect(c, INIT)
        c.write_records(reader_add(b"cut")[:7])
        c.close()
        self.assertTrue(self.host.wait_stderr("client 1 disconnected: peer closed the connection"),
                        self.host.stderr_text())
        self.assert_serves_next_client()

    def test_reset_reads_as_without_tls(self):
        # GnuTLS calls any recv failure "Error in the pull function"; the line
        # says what the socket said, as for a plaintext client.
        c = self.client()
        c.write_records(init())
        self.expect(c, INIT)
        c.reset()
        self.assertTrue(self.host.wait_stderr("client 1 disconnected: "), self.host.stderr_text())
        self.assertIn("client 1 disconnected: read failed: connection closed by the peer",
                      self.host.stderr_text())
        self.assert_serves_next_client()

    def test_fatal_alert_is_named(self):
        c = self.client()
        c.write_records(init())
        self.expect(c, INIT)
        c.send_fatal_alert()
        self.assertTrue(self.host.wait_stderr("client 1 disconnected: "), self.host.stderr_text())
        self.assertIn("the peer sent the fatal alert 'Bad record MAC'", self.host.stderr_text())
        self.assert_serves_next_client()

    def test_close_notify_while_vschost_is_writing(self):
        # The client asks for far more replies than the kernel buffers hold and
        # reads none, so vschost has replies queued when close_notify arrives.
        if shutil.which("ss") is None:
            self.skipTest("ss (package iproute2) is needed to see vschost's send queue")
        c = self.client(rcvbuf=4096)
        c.write_records(init())
        self.expect(c, INIT)
        batch = reader_add(b"r") * 5000  # 80,000 bytes of replies
        # Until the kernel's send buffer stops growing (it grows to tcp_wmem's
        # maximum on loopback), then one batch more: that one stays queued.
        last = -1
        for _ in range(100):
            c.write_records(batch)
            time.sleep(0.1)
            queued = self.send_queue()
            if queued is not None and queued - last < 40000:
                break
            last = queued if queued is not None else last
        c.write_records(batch)
        time.sleep(0.2)
        c.send_close_notify()
        self.assertTrue(self.host.wait_stderr("client 1 disconnected: ", 15), self.host.stderr_text())
        self.assertNotIn("write queue overflow", self.host.stderr_text())
        self.assert_serves_next_client()

    def send_queue(self):
        """Bytes in the send queue of vschost's side of the connection (ss)."""
        out = subprocess.run(["ss", "-tnH", "state", "established", "sport", "=", str(self.host.port)],
                             capture_output=True, text=True).stdout.split()
        return int(out[1]) if len(out) >= 2 else None


if __name__ == "__main__":
    unittest.main()
