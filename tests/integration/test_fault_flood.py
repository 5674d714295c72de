# SPDX-License-Identifier: LGPL-2.1-or-later
"""vschost against clients that try to exhaust it (issue 9, fault injection):

- many slow-loris clients each holding a header that announces the largest
  message allowed, then a few payload bytes, then nothing: vschost's memory per
  connection is measured (VmRSS growth / clients) and must stay under the bound
  its buffers allow (docs/security.md "Limits");
- a client that floods requests and never reads the answers: vschost's write
  queue limit closes that connection with one log line, memory stays bounded;
- a client sending valid traffic at full speed: other clients keep being served;
- --max-clients: an extra client gets a clean close (EOF, no hang), and a slot
  that frees up is given to the next client.

test_vschost_load.py (vschost's own) covers malformed messages, short slow-loris
bursts and --max-clients' log line; this module adds the memory, write-queue and
flood cases.
"""
import socket
import struct
import sys
import threading
import time
import unittest

from build_tree import program
from vscard_peer import APDU, CARD_REMOVE, INIT, Peer, init, msg
from vschost_proc import VschostProcess

MAX_MESSAGE = 65536         # vscard::kDefaultMaxMessageSize
READ_BUFFER = 64 * 1024     # Connection::Options::read_buffer_size
WRITE_QUEUE = 1024 * 1024   # Connection::Options::max_write_queue
# What one idle connection may cost at most: the read buffer, one partial message
# in the decoder, and bookkeeping (session, GLib stream objects, socket) under
# 64 KiB. The write queue is empty when the client reads.
BOUND_PER_CONNECTION = READ_BUFFER + MAX_MESSAGE + 64 * 1024
LORIS = 200


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def under_asan(pid):
    """True if the process runs with AddressSanitizer (the sanitizer build):
    then VmRSS also counts ASan's shadow memory, redzones and its quarantine of
    freed blocks, so a memory bound says nothing about vschost itself."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def raise_fd_limit(n):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


class FloodTest(unittest.TestCase):
    def setUp(self):
        if program("vschost") is None:
            self.skipTest("vschost is not built (set VSCARD_BUILD_DIR)")
        raise_fd_limit(4 * LORIS)
        self.host = None
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        if self.host:
            self.host.stop()

    def start(self, *args):
        self.host = VschostProcess(list(args))
        self.host.start()

    def good_session(self):
        """A well-behaved client: Init, ReaderAdd, ATR, CardRemove, all answered."""
        with Peer.connect("127.0.0.1", self.host.port, timeout=30) as p:
            p.handshake()
            p.send(msg(CARD_REMOVE, 0))
            p.expect_error(0, 0)

    def settle_rss(self):
        """VmRSS once it stops moving (GLib finishes accepting, allocator settles)."""
        last = vm_rss_kib(self.host.proc.pid)
        for _ in range(50):
            time.sleep(0.1)
            now = vm_rss_kib(self.host.proc.pid)
            if abs(now - last) < 64:
                return now
            last = now
        return last

    def check_memory_per_connection(self, mode):
        self.start("--mode", mode)
        # Warm up: one complete session, so that code paths and pools are in place.
        self.good_session()
        base = self.settle_rss()
        # Each loris announces a payload of the largest size allowed and sends
        # all of it but the last byte: the worst case, the decoder holds a
        # partial message of the maximum size, every page of it touched.
        header = struct.pack(">III", APDU, 0, MAX_MESSAGE - 12)
        for _ in range(LORIS):
            s = socket.create_connection(("127.0.0.1", self.host.port), timeout=10)
            s.sendall(init() + header + b"\x5a" * (MAX_MESSAGE - 12 - 1))
            self.socks.append(s)
        # Every loris must have been read by vschost before measuring.
        self.good_session()
        loaded = self.settle_rss()
        per_conn = (loaded - base) * 1024 / LORIS
        print(f"# vschost --mode {mode}: {LORIS} slow-loris connections holding a "
              f"{MAX_MESSAGE}-byte message but its last byte: VmRSS {base} KiB -> {loaded} KiB, "
              f"{per_conn / 1024:.1f} KiB per connection (bound "
              f"{BOUND_PER_CONNECTION // 1024} KiB)", file=sys.stderr)
        if under_asan(self.host.proc.pid):
            print("# memory bound not asserted: vschost runs under AddressSanitizer "
                  "(the plain build asserts it)", file=sys.stderr)
        else:
            self.assertLessEqual(per_conn, BOUND_PER_CONNECTION)
        # Others are still served, and vschost is alive.
        self.good_session()
        self.assertTrue(self.host.alive(), self.host.stderr_text()[-2000:])
        for s in self.socks:
            s.close()
        self.socks = []
        self.good_session()

    def test_memory_per_slow_loris_connection_qemu_mode(self):
        self.check_memory_per_connection("qemu")

    def test_memory_per_slow_loris_connection_multi_mode(self):
        self.check_memory_per_connection("multi")

    def test_client_that_never_reads_is_dropped_at_the_write_queue_limit(self):
        self.start("--mode", "qemu")
        self.good_session()
        base = self.settle_rss()
        s = socket.create_connection(("127.0.0.1", self.host.port), timeout=10)
        self.socks.append(s)
        # A small receive buffer so the kernel holds little on our side.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # Every CardRemove is answered with a 16-byte Error: 12 bytes in, 16 out.
        # 8 MiB of answers is far beyond the 1 MiB write queue plus socket buffers.
        burst = msg(CARD_REMOVE, 0) * 4096
        s.sendall(init())
        s.settimeout(0.5)
        sent = 0
        dropped = False
        deadline = time.monotonic() + 60
        while sent < 8 * 1024 * 1024 * 12 // 16 and time.monotonic() < deadline:
            try:
                sent += s.send(burst)
            except socket.timeout:
                # vschost stopped reading us (back-pressure): fine as well, as
                # long as memory stays bounded; check that and stop pushing.
                break
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
                break
        peak = self.settle_rss()
        print(f"# vschost with a client that never reads: sent {sent} bytes, VmRSS "
              f"{base} KiB -> {peak} KiB, connection dropped: {dropped}", file=sys.stderr)
        if not under_asan(self.host.proc.pid):
            self.assertLessEqual((peak - base) * 1024, WRITE_QUEUE + BOUND_PER_CONNECTION)
        # Others are served meanwhile.
        self.good_session()
        if dropped or "write queue overflow" in self.host.stderr_text():
            self.assertEqual(self.host.stderr_text().count("write queue overflow"), 1,
                             self.host.stderr_text()[-2000:])
        self.assertTrue(self.host.alive())

    def test_full_speed_sender_does_not_starve_others(self):
        self.start("--mode", "qemu")
        stop = threading.Event()
        counts = {"answers": 0}
        errors = []

        def flood():
            try:
                with Peer.connect("127.0.0.1", self.host.port, timeout=30) as p:
                    p.send(init())
                    p.expect(INIT)
                    burst = msg(CARD_REMOVE, 0) * 256
                    reader = threading.Thread(target=drain, args=(p.sock,), daemon=True)
                    reader.start()
                    while not stop.is_set():
                        p.sock.sendall(burst)
            except OSError as e:
                if not stop.is_set():
                    errors.append(repr(e))

        def drain(sock):
            try:
                while True:
                    data = sock.recv(1 << 16)
                    if not data:
                        return
                    counts["answers"] += len(data) // 16
            except OSError:
                return

        t = threading.Thread(target=flood)
        t.start()
        try:
            time.sleep(0.5)
            served = 0
            for _ in range(10):
                self.good_session()
                served += 1
        finally:
            stop.set()
            t.join(30)
        print(f"# full-speed sender: {counts['answers']} answers received while "
              f"{served} other sessions were served", file=sys.stderr)
        self.assertEqual(served, 10)
        self.assertGreater(counts["answers"], 0)
        self.assertEqual(errors, [])
        self.assertTrue(self.host.alive())

    def test_max_clients_refuses_cleanly_and_frees_slots(self):
        self.start("--mode", "qemu", "--max-clients", "2")
        a = Peer.connect("127.0.0.1", self.host.port)
        b = Peer.connect("127.0.0.1", self.host.port)
        try:
            a.send(init())
            a.expect(INIT)
            b.send(init())
            b.expect(INIT)
            # The third connection is closed by vschost: EOF, not a hang.
            c = socket.create_connection(("127.0.0.1", self.host.port), timeout=10)
            self.socks.append(c)
            c.settimeout(10)
            try:
                c.sendall(init())
                self.assertEqual(c.recv(100), b"")
            except ConnectionResetError:
                pass  # closed before our Init arrived: also a clean refusal
            # A slot frees up: the next client is served.
            a.close()
            deadline = time.monotonic() + 10
            while True:
                d = Peer.connect("127.0.0.1", self.host.port)
                try:
                    d.send(init())
                    d.expect(INIT, timeout=2)
                    break
                except Exception:  # noqa: BLE001 - vschost may not have seen a's close yet
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
                finally:
                    d.close()
        finally:
            a.close()
            b.close()
        self.assertTrue(self.host.alive())


if __name__ == "__main__":
    unittest.main()
