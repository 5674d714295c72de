# SPDX-License-Identifier: LGPL-2.1-or-later
"""vschost under load and abuse: 100+ clients at once each running a short
scripted exchange, and hostile clients (every malformed message kind of the
wire layer, slow-loris partial headers, abrupt disconnects) that must neither
crash nor wedge the host while a well-behaved client keeps being served."""
import os
import signal
import socket
import struct
import tempfile
import threading
import time
import unittest

from build_tree import program
from vscard_peer import (APDU, ATR, ERROR, INIT, READER_ADD, RECONNECT, Peer, VICC_ATR, init,
                         msg, reader_add)
from vschost_proc import VschostProcess

CLIENTS = 120


def answer_9000(reader, apdu):
    return apdu[2:4] + b"\x90\x00"  # echo P1 P2 so each exchange is distinct


# Malformed inputs, one per DecodeError kind of vscard/decoder.h plus framing abuse.
MALFORMED = [
    msg(INIT, 0, b"VSCD"),                                   # InitTooShort
    msg(INIT, 0, b"VSCD" + struct.pack(">II", 2, 0) + b"x"),  # InitBadLength
    msg(INIT, 0, b"ABCD" + struct.pack(">II", 2, 0)),        # BadMagic
    msg(ERROR, 0, b"\x00"),                                  # ErrorBadLength
    msg(READER_ADD, 0, b"\xc3\x28"),                         # ReaderNameNotUtf8
    msg(RECONNECT, 0, b"short"),                             # ReconnectBadLength
    msg(RECONNECT, 0, b"h" * 256),                           # ReconnectNotTerminated
    msg(ATR, 0, b"\x3b" * 60),                               # ATR too long
    msg(APDU, 7, b""),                                       # APDU nobody asked for
    msg(0xDEADBEEF, 0xFFFFFFFF, b"?"),                       # unknown type
    struct.pack(">III", APDU, 0, 0xFFFFFFF0),                # MessageTooLarge (fatal)
]


class LoadTest(unittest.TestCase):
    def setUp(self):
        if program("vschost") is None:
            self.skipTest("vschost is not built")
        self.tmp = tempfile.TemporaryDirectory()
        self.host = None

    def tearDown(self):
        if self.host:
            self.host.stop()
        self.tmp.cleanup()

    def start(self, mode, script=None, extra=()):
        args = ["--mode", mode] + list(extra)
        if script:
            path = os.path.join(self.tmp.name, "s.vsc")
            with open(path, "w") as f:
                f.write(script)
            args += ["--script", path]
        self.host = VschostProcess(args)
        self.host.start()

    def good_session(self, rounds=3):
        with Peer.connect("127.0.0.1", self.host.port, timeout=30) as p:
            p.handshake()
            p.send(msg(6, 0))  # CardRemove
            p.expect_error(0, 0)

    def test_many_concurrent_clients_run_the_script(self):
        self.start("multi", "wait-card timeout=60\nsend 00B00102 expect 0102 9000\n"
                            "send 00B00304 expect 0304 9000\n")
        errors = []
        barrier = threading.Barrier(CLIENTS)

        def client(i):
            try:
                with Peer.connect("127.0.0.1", self.host.port, timeout=60) as p:
                    barrier.wait(60)  # all connected at once before anyone starts
                    p.handshake(reader_name=f"Reader {i}")
                    for _ in range(2):
                        _, rid, command = p.expect(APDU, timeout=60)
                        p.send(msg(APDU, rid, answer_9000(rid, command)))
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append(f"client {i}: {e!r}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        # Each run reports as it finishes; wait for all of them, then stop vschost.
        deadline = time.monotonic() + 60
        while self.host.stdout_text().count("send 00B00304") < CLIENTS and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        self.host.proc.send_signal(signal.SIGTERM)
        status = self.host.wait(60)
        out = self.host.stdout_text()
        self.assertIn(f"{CLIENTS} runs, {CLIENTS * 3} steps: {CLIENTS * 3} passed", out)
        self.assertEqual(status, 0, self.host.stderr_text()[-3000:])

    def hostile_round(self):
        # Every malformed message on its own connection, then all in one stream.
        for bad in MALFORMED:
            s = socket.create_connection(("127.0.0.1", self.host.port))
            s.sendall(init() + bad + reader_add(b"after"))
            s.close()
        s = socket.create_connection(("127.0.0.1", self.host.port))
        s.sendall(init() + b"".join(MALFORMED))
        s.close()
        # Slow loris: partial headers held open, one byte at a time.
        loris = []
        for i in range(20):
            s = socket.create_connection(("127.0.0.1", self.host.port))
            s.sendall(init()[: 1 + i % 11])
            loris.append(s)
        # Abrupt disconnects: RST in the middle of a message.
        for i in range(20):
            s = socket.create_connection(("127.0.0.1", self.host.port))
            s.sendall((init() + reader_add(b"x") + msg(ATR, 0, VICC_ATR))[: 5 + i * 2])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        return loris

    def check_survives_hostile_clients(self, mode):
        self.start(mode)
        stop = threading.Event()
        served = []
        failures = []

        def good_loop():
            while not stop.is_set():
                try:
                    self.good_session()
                    served.append(1)
                except Exception as e:  # noqa: BLE001
                    failures.append(repr(e))
                    return

        t = threading.Thread(target=good_loop)
        t.start()
        loris = []
        try:
            for _ in range(3):
                loris += self.hostile_round()
            before = len(served)
            # With the slow-loris connections still open, others are served.
            self.good_session()
            time.sleep(0.2)
            self.assertGreater(len(served), 0)
            self.assertGreaterEqual(len(served), before)
        finally:
            stop.set()
            t.join(60)
            for s in loris:
                s.close()
        self.assertEqual(failures, [])
        self.assertTrue(self.host.alive(), self.host.stderr_text()[-2000:])
        self.good_session()

    def test_hostile_clients_qemu_mode(self):
        self.check_survives_hostile_clients("qemu")

    def test_hostile_clients_multi_mode(self):
        self.check_survives_hostile_clients("multi")

    def test_max_clients_refuses_extra(self):
        self.start("qemu", extra=["--max-clients", "2"])
        a = Peer.connect("127.0.0.1", self.host.port)
        b = Peer.connect("127.0.0.1", self.host.port)
        a.send(init()); a.expect(INIT)
        b.send(init()); b.expect(INIT)
        c = Peer.connect("127.0.0.1", self.host.port)
        c.send(init())
        with self.assertRaises(Exception):
            c.expect(INIT, timeout=5)
        for p in (a, b, c):
            p.close()
        self.assertTrue(self.host.wait_stderr("--max-clients"), self.host.stderr_text())


if __name__ == "__main__":
    unittest.main()
