# SPDX-License-Identifier: LGPL-2.1-or-later
"""A small VSCard peer for integration tests (Python standard library only).

Message layout from libcacard's src/vscard_common.h: a header of three
big-endian uint32 (type, reader_id, length) and `length` payload bytes.

    from vscard_peer import Peer, msg, init, INIT, ERROR
    with Peer.connect("127.0.0.1", port) as peer:
        peer.send(init())
        reply = peer.expect(INIT)            # (type, reader_id, payload)
        peer.send(msg(READER_ADD, 0, b"Reader 0"))
        peer.expect_error(0)                 # Error(success)

`Peer.serve_card(responder)` answers the host's APDUs like a card would, for
tests that drive vschost scripts.
"""
import socket
import struct
import time

# VSCMsgType (libcacard's vscard_common.h); RECONNECT is this project's extension.
INIT, ERROR, READER_ADD, READER_REMOVE, ATR, CARD_REMOVE, APDU, FLUSH, \
    FLUSH_COMPLETE, RECONNECT, CARD_CONTROL = range(1, 12)
TYPE_NAMES = {INIT: "Init", ERROR: "Error", READER_ADD: "ReaderAdd",
              READER_REMOVE: "ReaderRemove", ATR: "ATR", CARD_REMOVE: "CardRemove",
              APDU: "APDU", FLUSH: "Flush", FLUSH_COMPLETE: "FlushComplete",
              RECONNECT: "Reconnect", CARD_CONTROL: "CardControl"}

# VSCErrorCode
SUCCESS, GENERAL_ERROR, CANNOT_ADD_MORE_READERS, CARD_ALREADY_INSERTED = range(4)

MAGIC = b"VSCD"
VERSION = 2          # MAKE_VERSION(0,0,2)
UNDEFINED_READER = 0xFFFFFFFF
CAP_RECONNECT = 1    # bit 0 of the first capability word (extension)
CAP_CARD_CONTROL = 2  # bit 1: CardControl (type 11), docs/protocol.md
# CardControl event codes
POWER_OFF, POWER_ON, WARM_RESET, READER_IN_USE, READER_NOT_IN_USE, READER_EXCLUSIVE = range(1, 7)
HEADER_SIZE = 12

# ATR of vsmartcard's iso7816 vicc (T=1, valid TCK); QEMU and ISO checks accept it.
VICC_ATR = bytes.fromhex("3B 95 13 81 01 80 73 FF 01 00 0B")


def msg(mtype, reader_id=0, payload=b""):
    """Encodes one message."""
    return struct.pack(">III", mtype, reader_id & 0xFFFFFFFF, len(payload)) + bytes(payload)


def init(caps=(0,), version=VERSION, magic=MAGIC, reader_id=UNDEFINED_READER):
    payload = bytes(magic) + struct.pack(">I", version)
    payload += b"".join(struct.pack(">I", c) for c in caps)
    return msg(INIT, reader_id, payload)


def error(code, reader_id=0):
    return msg(ERROR, reader_id, struct.pack(">I", code))


def reader_add(name=b"", reader_id=UNDEFINED_READER):
    if isinstance(name, str):
        name = name.encode()
    return msg(READER_ADD, reader_id, name)


def atr(data, reader_id=0):
    return msg(ATR, reader_id, data)


def apdu(data, reader_id=0):
    return msg(APDU, reader_id, data)


def host_init_reply(caps=(0,)):
    """What QEMU sends in answer to an Init."""
    return init(caps=caps)


def error_reply(code, reader_id=0):
    return error(code, reader_id)


class Decoder:
    """Incremental decoder: feed() bytes, then take whole messages from messages()."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data

    def messages(self):
        out = []
        while len(self.buf) >= HEADER_SIZE:
            mtype, rid, length = struct.unpack(">III", self.buf[:HEADER_SIZE])
            if len(self.buf) < HEADER_SIZE + length:
                break
            out.append((mtype, rid, self.buf[HEADER_SIZE:HEADER_SIZE + length]))
            self.buf = self.buf[HEADER_SIZE + length:]
        return out


def decode_all(data):
    """Splits `data` into (type, reader_id, payload) tuples; trailing partial bytes are ignored."""
    d = Decoder()
    d.feed(data)
    return d.messages()


def describe(data):
    """Readable rendering of wire bytes for assertion messages."""
    parts = []
    d = Decoder()
    d.feed(data)
    for mtype, rid, payload in d.messages():
        parts.append(f"{TYPE_NAMES.get(mtype, mtype)}(reader={rid:#x}, {payload.hex()})")
    if d.buf:
        parts.append(f"<partial {d.buf.hex()}>")
    return " ".join(parts) or "<nothing>"


class PeerClosed(Exception):
    pass


class Peer:
    """A blocking client connection speaking VSCard."""

    def __init__(self, sock):
        self.sock = sock
        self.decoder = Decoder()
        self.pending = []
        self.closed = False

    @classmethod
    def connect(cls, host, port, timeout=10.0):
        return cls(socket.create_connection((host, port), timeout=timeout))

    @classmethod
    def connect_unix(cls, path, timeout=10.0):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        return cls(s)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("no message before the deadline")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            raise PeerClosed("the host closed the connection")
        self.decoder.feed(data)
        self.pending.extend(self.decoder.messages())

    def recv(self, timeout=10.0):
        """Next message as (type, reader_id, payload); raises PeerClosed or socket.timeout."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            self._fill(deadline)
        return self.pending.pop(0)

    def expect(self, mtype, timeout=10.0):
        m = self.recv(timeout)
        if m[0] != mtype:
            raise AssertionError(f"expected {TYPE_NAMES.get(mtype, mtype)}, got "
                                 f"{TYPE_NAMES.get(m[0], m[0])}(reader={m[1]:#x}, {m[2].hex()})")
        return m

    def expect_error(self, code, reader_id=None, timeout=10.0):
        m = self.expect(ERROR, timeout)
        got = struct.unpack(">I", m[2])[0] if len(m[2]) == 4 else None
        if got != code or (reader_id is not None and m[1] != reader_id):
            raise AssertionError(f"expected Error({code}) reader {reader_id}, got "
                                 f"Error({got}) reader {m[1]}")
        return m

    def handshake(self, caps=(0,), reader_name=b"Test Reader", card_atr=VICC_ATR):
        """Init, ReaderAdd and (if card_atr) ATR; returns the reader id the host gave."""
        self.send(init(caps))
        self.expect(INIT)
        self.send(reader_add(reader_name))
        _, rid, payload = self.expect(ERROR)
        if payload != struct.pack(">I", SUCCESS):
            raise AssertionError(f"ReaderAdd refused: {payload.hex()}")
        if card_atr is not None:
            self.send(atr(card_atr, rid))
            self.expect_error(SUCCESS, rid)
        return rid

    def serve_card(self, responder, until=None, timeout=10.0):
        """Answers APDU messages with responder(reader_id, apdu) -> bytes (or None to
        stop). Other messages go to until(msg) if given; it returns True to stop.
        Returns when the host closes, the responder or `until` says stop, or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                m = self.recv(max(0.001, deadline - time.monotonic()))
            except PeerClosed:
                return "closed"
            if m[0] == APDU:
                answer = responder(m[1], m[2])
                if answer is None:
                    return "stopped"
                self.send(apdu(answer, m[1]))
            elif m[0] == FLUSH:
                self.send(msg(FLUSH_COMPLETE, m[1]))
            elif until is not None and until(m):
                return "until"
