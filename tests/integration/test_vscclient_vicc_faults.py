# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient --vicc against hostile card programs (issue 14), no pcscd.

A real card (Debian's vicc, iso7816) sits in reader "vicc 0"; card programs
played by this test (Python sockets speaking vpcd's framing) connect beside it
and misbehave: garbage frames nobody asked for, a length of 0xFFFF with no data,
no answer at all, two answers to one APDU, 100 cards at once, a close in the
middle of a frame. The host is vschost --mode multi (its console sends APDUs,
--report json shows what it got). Each fault has a defined outcome -- the host
gets an error for the APDU (or the first answer), the card and its reader are
removed, vscclient says what happened in one log line naming the card -- and
afterwards the vicc card in "vicc 0" still answers.
"""
import os
import re
import select
import socket
import struct
import time
import unittest

import export_chain as ec
from vicc_chain import ViccChain

# A plausible ATR (T=1, historical bytes "VC", TCK) for the test's card programs.
ATR = bytes.fromhex("3B82015643") + bytes([0x96])
TIMEOUT_S = 2  # --vicc-timeout for these tests


def frame(data):
    return struct.pack("!H", len(data)) + data


class CardProgram:
    """One card program connected to vscclient --vicc, driven step by step."""

    def __init__(self, port, answer_atr=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock.settimeout(20)
        if answer_atr:
            self.expect(b"\x00\x01\x01\x00\x01\x04")  # power on, get ATR (vpcd.c)
            self.sock.sendall(frame(ATR))

    def recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise AssertionError(f"vscclient closed after {data!r}")
            data += chunk
        return data

    def expect(self, data):
        got = self.recv_exact(len(data))
        if got != data:
            raise AssertionError(f"expected {data.hex()}, got {got.hex()}")

    def command(self):
        (n,) = struct.unpack("!H", self.recv_exact(2))
        return self.recv_exact(n)

    def closed_by_peer(self, timeout=20):
        """True once vscclient has closed this connection."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(4096):
                pass
            return True
        except OSError:
            return False

    def close(self):
        self.sock.close()


class HostileCardTest(unittest.TestCase):
    def setUp(self):
        self.vc = ViccChain(self)
        self.host = self.vc.chain.vschost("--mode", "multi", "--max-readers", "128",
                                          "--report", "json", interactive=True)
        self.client = self.vc.vscclient(self.host.port, "--vicc=0",
                                        f"--vicc-timeout={TIMEOUT_S}")
        self.port = self.vc.vicc_port(self.client)
        self.vc.start_vicc(self.port)
        self.wait_event(lambda e: e["event"] == "card_inserted" and
                        e["reader"] == self.reader_id("vicc 0"))
        self.programs = []
        self.addCleanup(lambda: [p.close() for p in self.programs])

    # ---- the host's view ----
    def events(self):
        return ec.json_events(self.host.output())

    def wait_event(self, match, timeout=60, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events() if match(e)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError("event not seen\n" + self.vc.logs())

    def reader_id(self, name):
        ids = [e["reader"] for e in self.events()
               if e["event"] == "reader_added" and e["name"] == name]
        return ids[-1] if ids else None

    def send(self, name, apdu_hex):
        """Sends an APDU through vschost's console; returns how many apdu events
        that reader had before, to wait for the next one."""
        reader = self.reader_id(name)
        before = len([e for e in self.events() if e["event"] == "apdu" and e["reader"] == reader])
        self.host.command(f"send 1:{reader} {apdu_hex}")
        return reader, before

    def answer_of(self, reader, before, timeout=60):
        return self.wait_event(lambda e: e["event"] == "apdu" and e["reader"] == reader,
                               timeout, before + 1)[before]

    def connect_card(self, name="vicc 1"):
        p = CardProgram(self.port)
        self.programs.append(p)
        self.wait_event(lambda e: e["event"] == "card_inserted" and
                        e["reader"] == self.reader_id(name))
        return p

    # ---- outcomes ----
    def assert_removed(self, name):
        reader = self.reader_id(name)
        self.wait_event(lambda e: e["event"] == "card_removed" and e["reader"] == reader)
        self.wait_event(lambda e: e["event"] == "reader_removed" and e["reader"] == reader)

    def assert_one_log_line(self, pattern):
        lines = [l for l in self.client.output().splitlines() if re.search(pattern, l)]
        self.assertEqual(len(lines), 1, self.client.output()[-3000:])
        return lines[0]

    def assert_vicc_still_works(self):
        reader, before = self.send("vicc 0", "00A4000C023F00")
        self.assertEqual(self.answer_of(reader, before).get("sw"), "9000", self.vc.logs())

    # ---- the faults ----
    def test_garbage_frames_nobody_asked_for(self):
        card = self.connect_card()
        card.sock.sendall(frame(b"\xde\xad") + frame(os.urandom(40)) + os.urandom(100))
        self.assert_removed("vicc 1")
        self.assertTrue(card.closed_by_peer())
        self.assert_one_log_line(r"vicc 1: the card from 127\.0\.0\.1:\d+ sent a frame of 2 "
                                 r"bytes nobody asked for")
        self.assert_vicc_still_works()

    def test_length_ffff_without_data(self):
        card = self.connect_card()
        reader, before = self.send("vicc 1", "0084000008")
        self.assertEqual(card.command(), bytes.fromhex("0084000008"))
        card.sock.sendall(b"\xff\xff")
        self.assertIn("error_code", self.answer_of(reader, before))
        self.assert_removed("vicc 1")
        self.assert_one_log_line(r"vicc 1: the card from \S+ announced a frame of 65535 bytes, "
                                 r"more than the \d+ allowed")
        self.assert_vicc_still_works()

    def test_card_that_never_answers(self):
        card = self.connect_card()
        reader, before = self.send("vicc 1", "0084000008")
        self.assertEqual(card.command(), bytes.fromhex("0084000008"))
        started = time.monotonic()
        self.assertIn("error_code", self.answer_of(reader, before, timeout=TIMEOUT_S + 30))
        self.assertGreaterEqual(time.monotonic() - started, TIMEOUT_S - 0.5)
        self.assert_removed("vicc 1")
        self.assert_one_log_line(r"vicc 1: the card from \S+ sent no response within 2\.0 s")
        self.assert_vicc_still_works()

    def test_two_answers_to_one_apdu(self):
        card = self.connect_card()
        reader, before = self.send("vicc 1", "0084000008")
        self.assertEqual(card.command(), bytes.fromhex("0084000008"))
        card.sock.sendall(frame(b"\x11" * 8 + b"\x90\x00") + frame(b"\x6a\x82"))
        self.assertEqual(self.answer_of(reader, before).get("sw"), "9000")
        self.assert_removed("vicc 1")
        self.assert_one_log_line(r"vicc 1: the card from \S+ sent a frame of 2 bytes nobody "
                                 r"asked for \(two answers to one command\?\)")
        self.assert_vicc_still_works()

    def test_card_closing_mid_frame(self):
        card = self.connect_card()
        reader, before = self.send("vicc 1", "0084000008")
        self.assertEqual(card.command(), bytes.fromhex("0084000008"))
        card.sock.sendall(b"\x00\x10\x90")
        time.sleep(0.2)
        card.close()
        self.assertIn("error_code", self.answer_of(reader, before))
        self.assert_removed("vicc 1")
        self.assert_one_log_line(r"vicc 1: the card from \S+ closed the connection in the middle "
                                 r"of a frame \(1 of 16 bytes\)")
        self.assert_vicc_still_works()

    def test_hundred_cards_at_once(self):
        n = 100
        socks = [socket.create_connection(("127.0.0.1", self.port), timeout=30) for _ in range(n)]
        cards = []
        for s in socks:  # all connected before any answers
            p = CardProgram.__new__(CardProgram)
            p.sock = s
            s.settimeout(30)
            cards.append(p)
        self.programs.extend(cards)
        for p in cards:
            p.expect(b"\x00\x01\x01\x00\x01\x04")
            p.sock.sendall(frame(ATR))
        inserted = self.wait_event(lambda e: e["event"] == "card_inserted", timeout=120,
                                   count=n + 1)
        names = {e["name"] for e in self.events() if e["event"] == "reader_added"}
        self.assertEqual(names, {f"vicc {i}" for i in range(n + 1)})
        self.assertEqual(len(inserted), n + 1)
        self.assert_vicc_still_works()
        # The last of them answers too.
        reader, before = self.send(f"vicc {n}", "00A40000")
        # Whichever of the sockets got it (the order of accept is the kernel's).
        ready, _, _ = select.select([p.sock for p in cards], [], [], 20)
        self.assertEqual(len(ready), 1, self.vc.logs())
        card = next(p for p in cards if p.sock is ready[0])
        cmd = card.command()
        card.sock.sendall(frame(b"\x90\x00"))
        self.assertEqual(cmd, bytes.fromhex("00A40000"))
        answer = self.answer_of(reader, before)
        self.assertEqual(answer.get("sw"), "9000", (answer, self.vc.logs()))
        for p in cards:
            p.close()
        self.wait_event(lambda e: e["event"] == "reader_removed", timeout=120, count=n)
        self.assert_vicc_still_works()
        self.assertTrue(self.client.alive())


if __name__ == "__main__":
    unittest.main()
