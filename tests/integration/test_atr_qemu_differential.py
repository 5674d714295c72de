# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscard::qemu_accepts_atr() against the real QEMU 7.2 ccid-card-passthru.

QEMU answers every ATR message with Error(success) when it takes the ATR and
Error(general) when its 40-byte cap or check_atr() refuses it. This test sends
QEMU a corpus of ATRs (the real ones from tests/unit/atr_test.cc, every edge
case of check_atr, every prefix of the real ATRs, and seeded random ones, both
random bytes and ISO-shaped) and checks that libvscard's qemu_accepts_atr(),
asked through the atr_probe helper, gives the same verdict for each.
"""
import random
import struct
import subprocess
import unittest


from build_tree import program, program_path
from qemu_passthru import QemuPassthru, QemuUnavailable
from vscard_peer import ERROR, SUCCESS, GENERAL_ERROR, Peer, atr

REAL_ATRS = [
    "3B D5 18 FF 80 91 FE 1F C3 80 73 C8 21 13 08",  # QEMU DEFAULT_ATR (Athena)
    "3B 7A 18 00 00 73 66 74 65 20 63 64 31 34 34",  # libcacard cac.c
    "3B 89 00 56 43 41 52 44 5F 4E 53 53",           # libcacard VCARD_NSS
    "3B 95 13 81 01 80 73 FF 01 00 0B",              # vsmartcard vicc iso7816
]

EDGE_ATRS = [
    "", "3B", "3F", "3C 00", "00 00", "3B 00", "3F 00", "3B 80", "3B F0", "3B 01",
    "3B 05 01 02 03 04", "3B 05 01 02 03 04 05",
    "3B 81 01 F0 70", "3B 81 01 00 80",
    "3B 70 11 00 00", "3B 70 11 00 00 FF", "3B 10 11 FF", "3B 10 96",
    "3B 80 81 81 01 81", "3B 80 90 01 01 10",
    "3B 95 13 81 01 80 73 FF 01 00 0C", "3B 95 13 81 01 80 73 FF 01 00",
    "3B 95 13 81 01 80 73 FF 01 00 0B 00 00", "3B 01 AA BB CC",
    "3B 00" + " EE" * 38,   # 40 bytes: the cap
    "3B 00" + " EE" * 39,   # 41 bytes: over it
    "3B 0F" + " 11" * 15,   # 17 bytes, 15 historical
    "3B FF" + " FF" * 38,   # every presence bit, 40 bytes
]


def iso_shaped(rng):
    """An ATR built by the ISO 7816-3 grammar, then sometimes cut or padded."""
    k = rng.randrange(16)
    out = [rng.choice([0x3B, 0x3F])]
    presence = rng.randrange(16)
    out.append((presence << 4) | k)
    protocols = set()
    groups = 0
    while True:
        for bit in (1, 2, 4):
            if presence & bit:
                out.append(rng.randrange(256))
        if not presence & 8 or groups > 4:
            break
        groups += 1
        t = rng.choice([0, 1, 1, 15, rng.randrange(16)])
        presence = rng.randrange(16) if rng.random() < 0.4 else 0
        if groups > 4:
            presence &= 7
        out.append((presence << 4) | t)
        protocols.add(t)
    out += [rng.randrange(256) for _ in range(k)]
    if protocols - {0}:
        x = 0
        for b in out[1:]:
            x ^= b
        out.append(x)
    r = rng.random()
    if r < 0.25 and len(out) > 1:
        out = out[:rng.randrange(len(out))]
    elif r < 0.45:
        out += [rng.randrange(256) for _ in range(rng.randrange(1, 4))]
    return bytes(out)


def corpus():
    atrs = [bytes.fromhex(a) for a in REAL_ATRS + EDGE_ATRS]
    for a in REAL_ATRS:
        b = bytes.fromhex(a)
        atrs += [b[:n] for n in range(len(b))]
    rng = random.Random(20240607)
    for _ in range(300):
        n = rng.choice([rng.randrange(0, 8), rng.randrange(0, 42), rng.randrange(38, 46)])
        head = [rng.choice([0x3B, 0x3B, 0x3B, 0x3F, rng.randrange(256)])]
        atrs.append(bytes(head + [rng.randrange(256) for _ in range(n)])[:n])
    for _ in range(300):
        atrs.append(iso_shaped(rng))
    return atrs


class AtrQemuDifferentialTest(unittest.TestCase):
    def setUp(self):
        self.probe = program("atr_probe")
        if self.probe is None:
            self.skipTest(f"{program_path('atr_probe')} not built "
                          "(set VSCARD_BUILD_DIR to the build dir)")
        self.qemu = QemuPassthru()
        try:
            self.qemu.start()
        except QemuUnavailable as e:
            self.skipTest(str(e))
        self.addCleanup(self.qemu.stop)

    def probe_verdicts(self, atrs):
        text = "".join(a.hex() + "\n" for a in atrs)
        out = subprocess.run([str(self.probe)], input=text, capture_output=True, text=True,
                             check=True, timeout=60).stdout.splitlines()
        self.assertEqual(len(out), len(atrs))
        return [(line.split(" ", 1)[0] == "1", line.split(" ", 1)[1]) for line in out]

    def test_qemu_accepts_exactly_what_qemu_accepts_atr_says(self):
        atrs = corpus()
        verdicts = self.probe_verdicts(atrs)
        mismatches = []
        with Peer(self.qemu.connect()) as peer:
            reader = peer.handshake(card_atr=None)
            # Batches of whole messages, each batch answered before the next: QEMU
            # only rewinds its 64 KiB input buffer when a read ends on a message
            # boundary, and a batch (under 6 KB) always ends on one. Batching also
            # avoids a Nagle/delayed-ACK wait per message (QEMU writes each Error
            # as two small writes).
            batch = 100
            for start in range(0, len(atrs), batch):
                chunk = list(zip(atrs, verdicts))[start:start + batch]
                peer.send(b"".join(atr(data, reader) for data, _ in chunk))
                for data, (ours, _) in chunk:
                    _, _, payload = peer.expect(ERROR)
                    code = struct.unpack(">I", payload)[0]
                    self.assertIn(code, (SUCCESS, GENERAL_ERROR), data.hex())
                    if (code == SUCCESS) != ours:
                        mismatches.append(f"{data.hex(' ') or '<empty>'}: QEMU "
                                          f"{'accepts' if code == SUCCESS else 'refuses'}, "
                                          f"qemu_accepts_atr says {ours}")
        self.assertEqual(mismatches, [], "\n".join(mismatches))
        # The corpus must exercise both answers and the places where QEMU and
        # ISO 7816-3 disagree, or agreement would prove little.
        accepted = sum(ours for ours, _ in verdicts)
        self.assertGreater(accepted, 50)
        self.assertGreater(len(atrs) - accepted, 50)
        iso_only = [a for a, (q, iso) in zip(atrs, verdicts) if iso == "ok" and not q]
        qemu_only = [a for a, (q, iso) in zip(atrs, verdicts) if iso != "ok" and q]
        self.assertTrue(iso_only, "no ISO-valid ATR that QEMU refuses in the corpus")
        self.assertTrue(qemu_only, "no ISO-invalid ATR that QEMU accepts in the corpus")


if __name__ == "__main__":
    unittest.main()
