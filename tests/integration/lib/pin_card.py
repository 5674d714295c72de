#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A vpcd card with one PIN and a retry counter (standard library only), for
the PIN guard tests.

Speaks vsmartcard vpcd's framing like vpcd_card.py (2-byte big-endian length,
then the data; 1-byte frames are control codes, 4 = get ATR). Implements VERIFY
as ISO 7816-4 11.5.6 describes it, for reference P2 = 80:

  VERIFY with data:    right PIN -> 9000 and the counter back to its maximum;
                       wrong PIN -> counter - 1, then 63Cx (x tries left), or
                       6983 once the counter is 0 (blocked; right PIN too)
  VERIFY without data: 9000 if verified since power on, else 63Cx (or 6983)
  any other command:   6D00

Every VERIFY that reaches the card is logged ("VERIFY tries_left=N"), so a test
can tell what the card saw from what a guard answered locally.

Usage: pin_card.py --port PORT [--pin 1234] [--tries 3]
"""
import argparse
import socket
import struct
import sys

# The vpcd framing helpers are the scripted card's (same folder).
from vpcd_card import recv_exact, with_tck

ATR = bytes.fromhex("3B808001")


class PinCard:
    def __init__(self, pin, tries):
        self.pin = pin
        self.max_tries = tries
        self.tries = tries
        self.verified = False

    def status(self):
        if self.tries == 0:
            return b"\x69\x83"
        return bytes([0x63, 0xC0 | self.tries])

    def verify(self, apdu):
        if apdu[3] != 0x80:
            return b"\x6A\x88"  # reference data not found
        if len(apdu) == 4:
            return b"\x90\x00" if self.verified else self.status()
        lc = apdu[4]
        pin = apdu[5:5 + lc].rstrip(b"\xFF")
        if self.tries == 0:
            return b"\x69\x83"
        if pin == self.pin:
            self.tries = self.max_tries
            self.verified = True
            return b"\x90\x00"
        self.tries -= 1
        self.verified = False
        return self.status()

    def answer(self, apdu):
        if len(apdu) >= 4 and apdu[1] == 0x20:
            response = self.verify(apdu)
            print(f"VERIFY tries_left={self.tries} -> {response.hex().upper()}", flush=True)
            return response
        return b"\x6D\x00"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pin", default="1234")
    parser.add_argument("--tries", type=int, default=3)
    args = parser.parse_args()
    card = PinCard(args.pin.encode(), args.tries)
    atr = with_tck(ATR)
    sock = socket.create_connection((args.host, args.port))
    print(f"connected to vpcd on {args.host}:{args.port}", flush=True)
    while True:
        header = recv_exact(sock, 2)
        if header is None:
            return 0
        (length,) = struct.unpack("!H", header)
        frame = recv_exact(sock, length) if length else b""
        if frame is None:
            return 0
        if len(frame) == 1:
            if frame[0] == 4:
                sock.sendall(struct.pack("!H", len(atr)) + atr)
            elif frame[0] in (0, 2):
                card.verified = False  # power off / reset end the security state
            continue
        response = card.answer(frame)
        sock.sendall(struct.pack("!H", len(response)) + response)


if __name__ == "__main__":
    sys.exit(main())
