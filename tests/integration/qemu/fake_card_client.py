# SPDX-License-Identifier: LGPL-2.1-or-later
"""A minimal VSCard client in Python, for testing the guest and the runner
without vscclient: it plays a simple ISO 7816 card to QEMU's ccid-card-passthru.

It is a test double for the guest side of the pipeline only; the tests of
vscclient itself use vscclient. Message layout (libcacard's vscard_common.h,
QEMU's hw/usb/ccid-card-passthru.c): a 12-byte header of three big-endian
uint32 (type, reader_id, payload length), then the payload.
"""
import os
import socket
import struct
import threading
import time

INIT, ERROR, READER_ADD, READER_REMOVE, ATR, CARD_REMOVE, APDU = 1, 2, 3, 4, 5, 6, 7
MAGIC = b"VSCD"
VERSION = 2  # MAKE_VERSION(0,0,2)
UNDEFINED_READER = 0xFFFFFFFF
# The ATR vsmartcard's vicc uses for its "iso7816" card type.
ISO7816_ATR = bytes.fromhex("3B9513810180 73FF01000B".replace(" ", ""))


def simple_card(apdu):
    """Answers like a plain ISO 7816-4 card with no applications: SELECT
    succeeds, GET CHALLENGE returns random bytes, READ BINARY returns Le bytes
    0, 1, 2, ... (so a response can be checked for order and length), anything
    else is 6D00."""
    if len(apdu) < 4:
        return b"\x67\x00"
    ins = apdu[1]
    if ins == 0xA4:
        return b"\x90\x00"
    le = apdu[4] or 256 if len(apdu) == 5 else 0  # case 2 short APDU only
    if ins == 0x84:
        return os.urandom(le or 8) + b"\x90\x00"
    if ins == 0xB0:  # READ BINARY: Le bytes counting from 0, to check order
        return bytes(i & 0xFF for i in range(le)) + b"\x90\x00"
    return b"\x6D\x00"


class FakeCardClient:
    """Connects to QEMU's passthru chardev, adds a reader, inserts a card and
    answers APDUs on a thread until close(). Records every APDU it saw."""

    def __init__(self, port, host="127.0.0.1", atr=ISO7816_ATR, respond=simple_card):
        self.host, self.port, self.atr, self.respond = host, port, atr, respond
        self.apdus = []
        self.errors = []
        self.sock = None
        self.reader_id = 0
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()

    def _send(self, mtype, reader_id, payload=b""):
        with self._lock:
            self.sock.sendall(struct.pack(">III", mtype, reader_id, len(payload)) + payload)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("QEMU closed the connection")
            buf += chunk
        return buf

    def _recv(self):
        mtype, reader_id, length = struct.unpack(">III", self._recv_exact(12))
        if length > 65536:
            raise ConnectionError(f"message length {length} too large")
        return mtype, reader_id, self._recv_exact(length)

    def connect(self, timeout=30.0):
        """Connect (retrying while QEMU starts), handshake, add the reader and
        insert the card."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection((self.host, self.port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(None)
        self._send(INIT, UNDEFINED_READER, MAGIC + struct.pack(">II", VERSION, 0))
        self._expect(INIT)
        self._send(READER_ADD, UNDEFINED_READER, b"vscard fake reader\0")
        self.reader_id, code = self._expect_error()
        if code != 0:
            raise ConnectionError(f"ReaderAdd refused with error {code}")
        self.insert()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _expect(self, want):
        mtype, reader_id, payload = self._recv()
        if mtype != want:
            raise ConnectionError(f"expected message type {want}, got {mtype}")
        return reader_id, payload

    def _expect_error(self):
        reader_id, payload = self._expect(ERROR)
        return reader_id, struct.unpack(">I", payload[:4])[0]

    def insert(self):
        # Replies (Error success) are read by the serving thread once it runs.
        self._send(ATR, self.reader_id, self.atr)
        if self._thread is None:
            _, code = self._expect_error()
            if code != 0:
                raise ConnectionError(f"ATR refused with error {code}")

    def remove(self):
        self._send(CARD_REMOVE, self.reader_id)

    def _serve(self):
        try:
            while not self._stop.is_set():
                mtype, reader_id, payload = self._recv()
                if mtype == APDU:
                    self.apdus.append(payload)
                    self._send(APDU, reader_id, self.respond(payload))
                elif mtype == ERROR:
                    code = struct.unpack(">I", payload[:4])[0]
                    if code != 0:
                        self.errors.append(code)
        except (OSError, ConnectionError, struct.error) as e:
            if not self._stop.is_set():
                self.errors.append(str(e))

    def close(self):
        self._stop.set()
        if self.sock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        if self._thread:
            self._thread.join(5)
