#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A scripted card for vsmartcard's vpcd driver (standard library only).

Connects to vpcd's port like vicc does and answers its frames (2-byte big-endian
length, then the data; a 1-byte frame is a control code: 0 power off, 1 power
on, 2 reset, 4 get ATR -- vsmartcard's vpcd.h and ifd-vpcd.c). Used where vicc
cannot do what a test needs:

  INS 84  GET CHALLENGE: Le random bytes, 9000
  INS B0  READ BINARY: Le bytes (Le = 0 means 256, or 65536 extended) of the
          pattern i & 0xFF, 9000 -- responses of any size
  INS CA  GET DATA: P1P2 bytes of the same pattern; when that is more than Ne
          (Le, 00 = 256) the first Ne come with 61xx and the rest through
          GET RESPONSE (INS C0), the way a T=1 card chains a long answer
          (ISO 7816-4 5.3.4) -- responses longer than any short Le
  INS 5A  answers 9000 after --delay seconds -- a slow card
  other   6D00

Usage: vpcd_card.py --port PORT [--atr HEX] [--delay SECONDS]
"""
import argparse
import os
import socket
import struct
import sys
import time

DEFAULT_ATR = "3B808001"  # TD1 -> TD2 offers T=1; with_tck() appends TCK


def with_tck(atr):
    tck = 0
    for b in atr[1:]:
        tck ^= b
    return atr + bytes([tck])


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def expected_length(apdu):
    """Ne of a command APDU (ISO 7816-4 5.1), 0 if none."""
    body = apdu[4:]
    if not body:
        return 0
    if len(body) == 1:
        return body[0] or 256
    if body[0] == 0 and len(body) >= 3:
        if len(body) == 3:
            return (body[1] << 8 | body[2]) or 65536
        lc = body[1] << 8 | body[2]
        if len(body) == 3 + lc + 2:
            return (body[-2] << 8 | body[-1]) or 65536
        return 0
    lc = body[0]
    if len(body) == 1 + lc + 1:
        return body[-1] or 256
    return 0


class Chain:
    """The rest of a GET DATA answer, handed out by GET RESPONSE."""
    pending = b""

    @classmethod
    def give(cls, data, ne):
        """Up to ne bytes of data now; 61xx while more is pending."""
        head, cls.pending = data[:ne], data[ne:]
        if cls.pending:
            return head + bytes([0x61, min(len(cls.pending), 256) & 0xFF])
        return head + b"\x90\x00"


def answer(apdu, delay):
    ins = apdu[1]
    ne = expected_length(apdu)
    if ins != 0xC0:
        Chain.pending = b""  # a card keeps its response only until the next command
    if ins == 0xCA:
        n = apdu[2] << 8 | apdu[3]
        return Chain.give(bytes(i & 0xFF for i in range(n)), ne or 256)
    if ins == 0xC0:
        if not Chain.pending:
            return b"\x69\x85"
        return Chain.give(Chain.pending, ne or 256)
    if ins == 0x84:
        return os.urandom(ne) + b"\x90\x00"
    if ins == 0xB0:
        return bytes(i & 0xFF for i in range(ne)) + b"\x90\x00"
    if ins == 0x5A:
        time.sleep(delay)
        return b"\x90\x00"
    return b"\x6D\x00"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--atr", default=None)
    parser.add_argument("--delay", type=float, default=5.0)
    args = parser.parse_args()
    atr = bytes.fromhex(args.atr) if args.atr else with_tck(bytes.fromhex(DEFAULT_ATR))

    sock = socket.create_connection((args.host, args.port))
    print(f"connected to vpcd on {args.host}:{args.port}", flush=True)
    while True:
        header = recv_exact(sock, 2)
        if header is None:
            print("vpcd closed the connection", flush=True)
            return 0
        (length,) = struct.unpack("!H", header)
        frame = recv_exact(sock, length) if length else b""
        if frame is None:
            return 0
        if len(frame) == 1:
            if frame[0] == 4:
                sock.sendall(struct.pack("!H", len(atr)) + atr)
            else:
                print(f"control {frame[0]}", flush=True)
            continue
        if len(frame) < 4:
            sock.sendall(struct.pack("!H", 2) + b"\x67\x00")
            continue
        print(f"APDU {frame.hex().upper()}", flush=True)
        response = answer(frame, args.delay)
        sock.sendall(struct.pack("!H", len(response)) + response)


if __name__ == "__main__":
    sys.exit(main())
