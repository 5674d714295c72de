# SPDX-License-Identifier: LGPL-2.1-or-later
"""vschost --once lets its last bytes reach the client before it exits (issue 18).

The client below reads nothing for a while: vschost sends a 60000-byte APDU to
each of its 4 cards, the steps time out, the run ends. Meanwhile the client
keeps adding and removing a fifth reader for 2 s, so vschost's socket has
unread input when the run ends. vschost used to report the client gone and exit at once:
closing a socket with unread input sends a reset (RFC 1122 4.2.2.13), and the
client's kernel dropped the APDUs it had not read yet. Now it reads (and
discards) while the queue drains, and the client gets every APDU."""
import os
import socket
import struct
import tempfile
import threading
import time
import unittest

from build_tree import program
from vschost_proc import VschostProcess
from vscard_peer import APDU, INIT, READER_REMOVE, VICC_ATR, Peer, atr, init, msg, reader_add

APDU_SIZE = 60000
READERS = 4


class OnceTest(unittest.TestCase):
    def setUp(self):
        if program("vschost") is None:
            self.skipTest("vschost is not built (VSCARD_BUILD_DIR)")

    def test_last_apdu_reaches_a_slow_reader(self):
        # An extended-length command APDU (ISO 7816-4 5.1): 00 D6 00 00 00 Lc1 Lc2 data.
        data_len = APDU_SIZE - 7
        command = bytes([0x00, 0xD6, 0x00, 0x00, 0x00, data_len >> 8, data_len & 0xFF]) + \
            bytes(i & 0xFF for i in range(data_len))
        with tempfile.NamedTemporaryFile("w", suffix=".vsc", delete=False) as f:
            for k in range(READERS):
                f.write(f"wait-card \"Reader {k}\" timeout=10s\n")
                f.write(f"send {command.hex()} timeout=200ms\n")
            script = f.name
        try:
            with VschostProcess(["--mode", "multi", "--max-readers", str(READERS + 1), "--once", "--script", script]) as host:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                # A small receive window: most of the APDU stays on vschost's side.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.settimeout(10)
                sock.connect(("127.0.0.1", host.port))
                peer = Peer(sock)
                apdus = []

                def until_error():
                    # APDUs to cards already in may come first: keep them.
                    while True:
                        m = peer.recv()
                        if m[0] != APDU:
                            return m
                        apdus.append(m)

                peer.send(init())
                peer.expect(INIT)
                for k in range(READERS):
                    peer.send(reader_add(f"Reader {k}".encode()))
                    _, rid, _ = until_error()
                    peer.send(atr(VICC_ATR, rid))
                    until_error()
                stop = threading.Event()

                def churn():
                    # Valid traffic that leaves input in vschost's socket.
                    while not stop.is_set():
                        try:
                            sock.sendall(reader_add(b"Churn") + msg(READER_REMOVE, READERS))
                        except OSError:
                            return
                        time.sleep(0.002)

                churner = threading.Thread(target=churn, daemon=True)
                churner.start()
                # Every step times out after 0.2 s: the run is over after about
                # 0.8 s, while the churn goes on. It stops well before vschost's
                # 2 s wait for our end of stream is over (Connection's linger).
                time.sleep(2)
                stop.set()
                churner.join()
                time.sleep(2)
                received = b""
                sock.settimeout(10)
                while True:
                    try:
                        chunk = sock.recv(65536)
                    except ConnectionResetError:
                        break
                    except socket.timeout:
                        self.fail(f"vschost neither sent nor closed; it said:\n{host.stderr_text()}")
                    if not chunk:
                        break
                    received += chunk
                host.wait(20)
                # The handshake's reads may have taken the APDU's first bytes.
                peer.decoder.feed(received)
                messages = peer.pending + peer.decoder.messages()
                apdus += [m for m in messages if m[0] == APDU]
                self.assertEqual(len(apdus), READERS,
                                 f"{len(received)} more bytes, not every APDU; vschost said:\n"
                                 + host.stderr_text())
                self.assertTrue(all(a[2] == command for a in apdus))
        finally:
            os.unlink(script)


if __name__ == "__main__":
    unittest.main()
