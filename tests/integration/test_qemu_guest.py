# SPDX-License-Identifier: LGPL-2.1-or-later
"""End to end with a real QEMU guest, part 1: the guest and the pipeline.

A card fed over VSCard into QEMU 7.2's usb-ccid + ccid-card-passthru is used by
pcscd, libccid and OpenSC inside a booted Debian kernel (tests/integration/qemu/:
build_guest.py, init.sh, guest_runner.py). GuestBuilderTest checks the image;
GuestPipelineTest drives the guest with a minimal Python VSCard client
(qemu/fake_card_client.py), proving the guest, QEMU and the runner work, so a
failure in test_qemu_vscclient.py or test_qemu_controllers.py points at
vscclient. (That client sends what it is given: it has no T=0 presentation
and no response shaping.)

Everything is real except that client: QEMU (TCG), the Linux kernel and USB
stack, pcscd, libccid and OpenSC.
"""
import os
import struct
import tempfile
import time
import unittest

import build_guest
import fake_card_client
import guest_runner
from guest_testing import (GET_CHALLENGE, GUEST_TIMEOUT, SELECT_AID, T0_ATR,
                           GuestTestCase, guest, report)


def read_newc(path):
    """{name: (mode, data)} of a newc cpio archive."""
    entries, data, pos = {}, open(path, "rb").read(), 0
    while True:
        hdr = data[pos:pos + 110]
        if hdr[:6] != b"070701":
            raise AssertionError(f"bad cpio magic at {pos}")
        fields = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, data[pos:pos + size])
        pos += size
        pos += -pos % 4


def resolve(entries, path, depth=0):
    """Follow symlinks inside the archive the way the guest's kernel would."""
    parts, done = path.strip("/").split("/"), []
    for i, part in enumerate(parts):
        cur = "/".join(done + [part])
        mode, target = entries.get(cur, (None, None))
        if mode is not None and mode & 0o170000 == 0o120000:
            if depth > 20:
                raise AssertionError(f"symlink loop at {path}")
            base = "" if target.startswith(b"/") else "/".join(done)
            rest = "/".join(parts[i + 1:])
            return resolve(entries, "/".join(p for p in (base, target.decode(), rest) if p),
                           depth + 1)
        done.append(part)
    return "/".join(done)


class GuestBuilderTest(unittest.TestCase):
    """The guest image itself (no QEMU run): kernel, contents, reproducibility."""

    def test_kernel_is_elf_with_pvh_entry(self):
        g = guest()
        with open(g.kernel, "rb") as f:
            elf = f.read()
        self.assertEqual(elf[:4], b"\x7fELF")
        # PVH entry: an ELF note of owner "Xen" and type 18
        # (XEN_ELFNOTE_PHYS32_ENTRY), which QEMU's -kernel loader looks for.
        phoff, = struct.unpack_from("<Q", elf, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
        found = False
        for i in range(phnum):
            ptype, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
            if ptype != 4:  # PT_NOTE
                continue
            pos = off
            while pos < off + filesz:
                namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
                name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\0")
                found |= name == b"Xen" and ntype == 18
                pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
        self.assertTrue(found, "no Xen PHYS32_ENTRY note: QEMU could not boot it via PVH")

    def test_initramfs_holds_what_the_guest_runs(self):
        entries = read_newc(guest().initrd)
        self.assertEqual(entries["init"][0] & 0o777, 0o755)
        for path in ("/usr/bin/busybox", "/usr/sbin/pcscd", "/usr/bin/opensc-tool",
                     "/usr/bin/pkcs11-tool", "/lib64/ld-linux-x86-64.so.2",
                     "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
                     "/usr/lib/x86_64-linux-gnu/libpcsclite.so.1",
                     "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1",
                     "/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents/Linux/libccid.so",
                     "/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents/Info.plist",
                     "/etc/opensc/opensc.conf"):
            with self.subTest(path):
                real = resolve(entries, path)
                self.assertIn(real, entries, f"{path} -> {real} missing")
                self.assertEqual(entries[real][0] & 0o170000, 0o100000, f"{path} not a file")
                self.assertGreater(len(entries[real][1]), 0)
        order = entries["modules/load-uhci-hcd"][1].decode().split()
        self.assertEqual(order, ["usb-common.ko", "usbcore.ko", "uhci-hcd.ko"])
        for m in order:
            self.assertEqual(entries["modules/" + m][1][:4], b"\x7fELF")

    def test_initramfs_is_reproducible(self):
        g = guest()
        kdir = os.path.dirname(g.kernel)
        files = build_guest.guest_file_list()
        with tempfile.TemporaryDirectory() as tmp:
            a, b = os.path.join(tmp, "a.cpio"), os.path.join(tmp, "b.cpio")
            build_guest.build_initramfs(a, kdir, g.kernel_version, files)
            build_guest.build_initramfs(b, kdir, g.kernel_version, files)
            with open(a, "rb") as fa, open(b, "rb") as fb, open(g.initrd, "rb") as fc:
                da, db, dc = fa.read(), fb.read(), fc.read()
        self.assertEqual(da, db)
        self.assertEqual(da, dc, "the cached initrd differs from a fresh build with its key")

    def test_console_parser(self):
        r = guest_runner.parse_console(
            "noise\n@@VSCARD boot kernel=6.1 t=3.5\n@@VSCARD-BEGIN atr\n3b:02\n"
            "@@VSCARD-END atr rc=0\n@@VSCARD error no card t=9.0\n@@VSCARD done fail t=9.1\n")
        self.assertEqual(r.step("atr").output, "3b:02")
        self.assertEqual(r.step("atr").rc, 0)
        self.assertEqual(r.mark("boot"), (" kernel=6.1", 3.5))
        self.assertEqual(r.errors(), ["no card"])
        self.assertEqual(r.status, "fail")
        with self.assertRaises(AssertionError):
            r.step("sign")


class GuestPipelineTest(GuestTestCase):
    """The guest and QEMU, fed by the minimal Python VSCard client."""

    def client(self, vm, **kw):
        c = fake_card_client.FakeCardClient(vm.port, **kw)
        self.addCleanup(c.close)
        c.connect()
        return c

    def test_guest_exchanges_apdus_with_t0_card(self):
        # READ BINARY of 52 bytes makes a CCID message of exactly 64 bytes (one
        # full bulk packet; unshaped, qemu-xhci loses step after it; UHCI, used
        # here, does not: docs/qemu.md), 200
        # bytes spans four packets; the exchanges after them must stay in step.
        apdus = [SELECT_AID, "00B0000034", GET_CHALLENGE, "00B00000C8", "00B0000010"]
        vm = self.boot(["atr", "apdu"], apdus=",".join(apdus))
        c = self.client(vm, atr=T0_ATR)
        result = self.finish(vm)
        self.assertEqual(result.status, "ok", result.console)
        self.assertEqual(result.step("atr").output.strip(), "3b:02:14:50")
        answers = guest_runner.parse_apdu_output(result.step("apdu").output)
        pattern = "".join(f"{i:02X}" for i in range(256))
        self.assertEqual([sw for _, sw in answers], ["9000"] * 5, result.console)
        self.assertEqual(answers[1][0], pattern[:104])
        self.assertEqual(len(answers[2][0]), 16)
        self.assertEqual(answers[3][0], pattern[:400])
        self.assertEqual(answers[4][0], pattern[:32])
        self.assertEqual(c.apdus[-5:], [bytes.fromhex(a) for a in apdus])

    def test_guest_without_card_fails_with_reason(self):
        # No client connects: the guest must not hang or claim success; it
        # reports why and powers off, and the runner reads that as a failure.
        vm = self.boot(["readers", "atr"], wait=5)
        result = self.finish(vm)
        self.assertEqual(result.status, "fail", result.console)
        self.assertEqual(result.errors(), ["no card after 5s"], result.console)
        self.assertNotIn("atr", result.steps)
        self.assertRegex(result.step("readers").output, r"0\s+No\s.*CCID Interface")

    def test_card_removal_and_insertion_seen_by_guest(self):
        vm = self.boot(["watch"], watch=120)
        c = self.client(vm, atr=T0_ATR)
        vm.wait_for(r"@@VSCARD card present 3b:02:14:50", GUEST_TIMEOUT)
        c.remove()
        vm.wait_for(r"@@VSCARD card absent", 60)
        c.insert()
        m = vm.wait_for(r"@@VSCARD card present .*t=", 60)
        self.assertIn("3b:02:14:50", m.string)
        # Three transitions in order: present, absent, present again.
        states = [rest.split()[0] for ev, rest, _ in vm.result().marks if ev == "card"]
        self.assertEqual(states, ["present", "absent", "present"])
        report("remove/insert round trip seen by guest", time.monotonic() - self.started)


if __name__ == "__main__":
    unittest.main()
