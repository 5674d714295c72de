"""End to end with a real QEMU guest: a card fed over VSCard into QEMU 7.2's
usb-ccid + ccid-card-passthru is used by pcscd, libccid and OpenSC inside a
booted Debian kernel (tests/integration/qemu/: build_guest.py, init.sh,
guest_runner.py).

GuestPipelineTest drives the guest with a minimal Python VSCard client
(qemu/fake_card_client.py): it proves the guest, QEMU and the runner work, so a
failure in VscclientGuestTest points at vscclient. VscclientGuestTest feeds the
card with the real vscclient (--soft-card, --pcsc, TLS, stdin commands,
reconnect).

Everything is real except that fake client: QEMU (TCG), the Linux kernel and
USB stack, pcscd, libccid, OpenSC, openssl, and on the host pcscd + vpcd + vicc.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "qemu"))
sys.path.insert(0, os.path.join(HERE, "lib"))
import build_guest  # noqa: E402
import fake_card_client  # noqa: E402
import guest_runner  # noqa: E402

# How long one guest may take from QEMU start to power-off. A boot to the ATR
# takes ~10-20 s under TCG on a loaded 2-core machine; this is only the bound
# that turns a hang into a failure.
GUEST_TIMEOUT = 240
T0_ATR = bytes.fromhex("3B021450")  # ISO 7816-3: no interface bytes -> T=0 only
SELECT_AID = "00A4040C07A0000002471001"
GET_CHALLENGE = "0084000008"

_guest = None
_guest_error = None


def guest():
    """The guest, built once per test run (and cached across runs)."""
    global _guest, _guest_error
    if _guest is None and _guest_error is None:
        why = guest_runner.qemu_available()
        if why:
            _guest_error = why
        else:
            t = time.monotonic()
            try:
                _guest = build_guest.build()
                print(f"# guest {_guest.key} ready in {time.monotonic() - t:.1f} s "
                      f"(kernel {_guest.kernel_version})", flush=True)
            except build_guest.BuildError as e:
                _guest_error = f"guest cannot be built here: {e}"
    if _guest_error:
        raise unittest.SkipTest(_guest_error)
    return _guest


def report(name, seconds):
    """A timing figure, as a TAP comment (informative; never asserted)."""
    if seconds is not None:
        print(f"# {name}: {seconds:.1f} s", flush=True)


class GuestTestCase(unittest.TestCase):
    def boot(self, steps, port=None, tls_dir=None, extra_args=(), **params):
        """Start QEMU with the guest running `steps`; stopped at cleanup."""
        params.setdefault("wait", 60)
        vm = guest_runner.GuestVM(guest(), steps, params=params, port=port,
                                  tls_dir=tls_dir, extra_args=extra_args)
        self.addCleanup(vm.stop)
        if not hasattr(self, "started"):
            self.started = time.monotonic()
        vm.start()
        return vm

    def finish(self, vm):
        result = vm.wait_done(GUEST_TIMEOUT)
        report(f"{self._testMethodName}: QEMU start to first ATR",
               vm.seconds_until(r"@@VSCARD card-present"))
        report(f"{self._testMethodName}: total", time.monotonic() - self.started)
        return result


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

    def test_guest_sees_reader_and_atr_of_t1_card_but_cannot_connect(self):
        # vicc's iso7816 ATR announces only T=1. QEMU 7.2's usb-ccid descriptor
        # offers only T=0 (dwProtocols = 1, hw/usb/dev-smartcard-reader.c), so
        # the guest's pcscd sees the card and its ATR but its PTS to T=1 fails
        # and no application can connect: a limit of QEMU users must know.
        vm = self.boot(["readers", "atr", "apdu"], apdus=GET_CHALLENGE, wait=20)
        c = self.client(vm, atr=fake_card_client.ISO7816_ATR)
        result = self.finish(vm)
        self.assertIn("CCID Interface", result.step("readers").output)
        self.assertEqual(result.step("atr").rc, 0, result.console)
        self.assertEqual(result.step("atr").output.strip(), "3b:95:13:81:01:80:73:ff:01:00:0b")
        self.assertNotEqual(result.step("apdu").rc, 0, result.console)
        self.assertEqual(c.apdus, [])

    def test_guest_exchanges_apdus_with_t0_card(self):
        # READ BINARY of 52 bytes makes a CCID message of exactly 64 bytes (one
        # full bulk packet; qemu-xhci loses step after it, docs/qemu.md), 200
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


# ------------------------------------------------------------------ vscclient

def vscclient_path():
    build = os.environ.get("VSCARD_BUILD_DIR", "")
    path = os.path.join(build, "vscclient", "vscclient")
    return path if build and os.access(path, os.X_OK) else None


class Vscclient:
    """One vscclient process started by a test; killed by its PID only."""

    def __init__(self, test, args, env=None):
        self.log_path = os.path.join(test.tmp, f"vscclient{len(test.clients)}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([vscclient_path(), *args], stdin=subprocess.PIPE,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env or os.environ, start_new_session=True)
        test.clients.append(self)

    def command(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self.log.close()


class VscclientGuestTest(GuestTestCase):
    """vscclient -> QEMU -> guest."""

    def setUp(self):
        if not vscclient_path():
            self.skipTest("vscclient not built (no $VSCARD_BUILD_DIR/vscclient/vscclient)")
        guest()
        self.tmpdir = tempfile.TemporaryDirectory(prefix="vscard-qemu-")
        self.addCleanup(self.tmpdir.cleanup)
        self.tmp = self.tmpdir.name
        self.clients = []
        self.addCleanup(self._stop_clients)
        # --soft-card keeps its NSS database in the per-user cache directory;
        # give each test its own so the host side can find the certificates.
        self.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(self.tmp, "cache"))

    def _stop_clients(self):
        for c in self.clients:
            c.stop()

    def vscclient(self, *args):
        return Vscclient(self, list(args), env=self.env)

    def test_soft_card_cac_certificates_and_signature(self):
        vm = self.boot(["info", "objects", "sign"], pin="77777777")
        self.vscclient("--soft-card", "127.0.0.1", str(vm.port))
        result = self.finish(vm)
        self.assertIn("CAC", result.step("info").output, result.console)
        objects = result.step("objects").output
        self.assertEqual(len(re.findall(r"Certificate Object", objects)), 3, objects)
        sign = result.step("sign")
        self.assertEqual(sign.rc, 0, result.console)
        fields = dict(re.findall(r"^([a-z-]+): (\S+)$", sign.output, re.M))
        self.assertIn("signature-hex", fields, sign.output)
        self.verify_signature(fields)

    def verify_signature(self, fields):
        """openssl on the host checks the guest's signature against the
        certificate the guest read from the card (DER, printed as hex)."""
        cert_der = os.path.join(self.tmp, "cert.der")
        with open(cert_der, "wb") as f:
            f.write(bytes.fromhex(fields["cert-hex"]))
        pub = os.path.join(self.tmp, "pub.pem")
        subprocess.run(["openssl", "x509", "-inform", "DER", "-in", cert_der, "-noout",
                        "-pubkey", "-out", pub], check=True, capture_output=True)
        data = os.path.join(self.tmp, "data")
        sig = os.path.join(self.tmp, "sig")
        with open(data, "wb") as f:
            f.write(bytes.fromhex(fields["sign-data-hex"]))
        with open(sig, "wb") as f:
            f.write(bytes.fromhex(fields["signature-hex"]))
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig,
                            data], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Verified OK", r.stdout)

    def host_pcsc(self):
        """Our own pcscd with vpcd's readers on the host (lib/pcsc_env.py)."""
        import pcsc_env
        if "--pcsc" not in subprocess.run([vscclient_path(), "--help"], capture_output=True,
                                          text=True).stdout:
            self.skipTest("vscclient built without --pcsc")
        env = pcsc_env.PcscEnv()
        self.addCleanup(env.close)
        env.start()
        return env, pcsc_env

    def test_pcsc_bridge_of_vicc_card_atr_reaches_guest(self):
        # vicc's iso7816 card, bridged from the host's pcscd: the guest's pcscd
        # sees the card with its real ATR. Its APDUs cannot pass: the ATR offers
        # only T=1 and QEMU 7.2's reader only T=0 (GuestPipelineTest shows the
        # same with the Python client); the next test exchanges APDUs.
        env, pcsc_env = self.host_pcsc()
        env.start_vicc(0)
        env.wait_card(0)
        vm = self.boot(["readers", "atr"])
        self.vscclient(f"--pcsc={pcsc_env.reader_name(0)}", "127.0.0.1", str(vm.port))
        result = self.finish(vm)
        self.assertEqual(result.step("atr").output.strip(), "3b:95:13:81:01:80:73:ff:01:00:0b",
                         result.console)

    def test_pcsc_bridge_apdus_reach_host_card(self):
        # A T=0 card in the host's vpcd reader (lib/vpcd_card.py: GET CHALLENGE
        # gives random bytes, READ BINARY a counting pattern, anything else
        # 6D00), bridged by vscclient --pcsc into the guest, where OpenSC sends
        # SELECT, GET CHALLENGE and a READ BINARY whose 200-byte answer spans
        # several 64-byte USB packets. (Debian 12's vicc has no working T=0
        # card: its cryptoflex type fails under Python 3.)
        env, pcsc_env = self.host_pcsc()
        env.start_scripted_card(0, atr="3B021450")
        env.wait_card(0)
        vm = self.boot(["atr", "apdu"], apdus=f"00A4000C023F00,{GET_CHALLENGE},00B00000C8")
        self.vscclient(f"--pcsc={pcsc_env.reader_name(0)}", "127.0.0.1", str(vm.port))
        result = self.finish(vm)
        self.assertEqual(result.step("atr").output.strip(), "3b:02:14:50", result.console)
        answers = guest_runner.parse_apdu_output(result.step("apdu").output)
        self.assertEqual([sw for _, sw in answers], ["6D00", "9000", "9000"], result.console)
        self.assertEqual(len(answers[1][0]), 16)
        self.assertEqual(answers[2][0], "".join(f"{i:02X}" for i in range(200)))

    def test_tls_with_client_certificate(self):
        pki = TlsPki(self.tmp)
        vm = self.boot(["atr"], tls_dir=pki.server_dir)
        c = self.vscclient("--soft-card", "--tls-creds", pki.client_dir("good", pki.ca),
                           "--tls-hostname", "localhost", "127.0.0.1", str(vm.port))
        result = self.finish(vm)
        self.assertEqual(result.status, "ok", result.console + c.output())
        self.assertEqual(result.step("atr").rc, 0)

    def assert_tls_refused(self, pki, creds):
        """QEMU (verify-peer=on) refuses the client; vscclient exits non-zero
        and its error line says it was about TLS or the certificate. A paused
        QEMU (-S) is enough: its chardev and TLS run without the guest."""
        vm = self.boot(["atr"], tls_dir=pki.server_dir, extra_args=["-S"])
        c = self.vscclient("--soft-card", "--no-reconnect", "--tls-creds", creds,
                           "--tls-hostname", "localhost", "127.0.0.1", str(vm.port))
        rc = c.wait_exit(60)
        self.assertIsNotNone(rc, "vscclient still running:\n" + c.output())
        self.assertNotEqual(rc, 0, c.output())
        # Informational lines (GLib's "vscclient-Message: ...", which may say
        # "connected ... (TLS)") don't count: the error itself must say why.
        errors = [line for line in c.output().splitlines()
                  if line.strip() and not re.match(r"^\S+-(Message|INFO|DEBUG)", line)]
        self.assertRegex("\n".join(errors), r"(?i)certificate|\bTLS\b", c.output())

    def test_tls_refused_without_client_certificate(self):
        pki = TlsPki(self.tmp)
        self.assert_tls_refused(pki, pki.client_dir("none", pki.ca, with_cert=False))

    def test_tls_refused_with_certificate_from_another_ca(self):
        pki = TlsPki(self.tmp)
        self.assert_tls_refused(pki, pki.client_dir("other", pki.other_ca))

    def test_card_removal_and_insertion_via_stdin(self):
        vm = self.boot(["watch"], watch=150)
        c = self.vscclient("--soft-card", "127.0.0.1", str(vm.port))
        vm.wait_for(r"@@VSCARD card present", GUEST_TIMEOUT)
        c.command("remove")
        vm.wait_for(r"@@VSCARD card absent", 60)
        c.command("insert")
        states = self._wait_states(vm, ["present", "absent", "present"], 60)
        self.assertEqual(states, ["present", "absent", "present"], c.output())

    def _wait_states(self, vm, want, timeout):
        deadline = time.monotonic() + timeout
        while True:
            states = [rest.split()[0] for ev, rest, _ in vm.result().marks if ev == "card"]
            if states[:len(want)] == want or time.monotonic() > deadline:
                return states
            time.sleep(0.5)

    def test_qemu_restart_vscclient_reconnects(self):
        vm1 = self.boot(["atr"])
        port = vm1.port
        c = self.vscclient("--soft-card", "127.0.0.1", str(port))
        first = self.finish(vm1)
        self.assertEqual(first.status, "ok", first.console + c.output())
        self.assertIsNone(c.proc.poll(), "vscclient exited when QEMU went away:\n" + c.output())
        vm2 = self.boot(["atr"], port=port, wait=90)
        second = self.finish(vm2)
        self.assertEqual(second.status, "ok", second.console + c.output())
        self.assertEqual(second.step("atr").output.strip(), first.step("atr").output.strip())
        report("QEMU restart to card in the new guest", vm2.seconds_until("@@VSCARD card-present"))


class TlsPki:
    """A CA, QEMU's server credentials, and client credentials, made with
    openssl in the layout of QEMU's tls-creds-x509 (ca-cert.pem, server-cert.pem,
    server-key.pem; client-cert.pem, client-key.pem)."""

    def __init__(self, tmp):
        self.tmp = os.path.join(tmp, "pki")
        os.makedirs(self.tmp)
        self.ca = self._ca("ca")
        self.other_ca = self._ca("other-ca")
        self.server_dir = os.path.join(self.tmp, "server")
        os.makedirs(self.server_dir)
        self._copy(self.ca[0], os.path.join(self.server_dir, "ca-cert.pem"))
        self._leaf(self.ca, "localhost", os.path.join(self.server_dir, "server"),
                   "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")

    def _run(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    def _copy(self, src, dst):
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read())

    def _ca(self, name):
        cert, key = os.path.join(self.tmp, f"{name}.pem"), os.path.join(self.tmp, f"{name}.key")
        self._run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                  "-days", "2", "-subj", f"/CN=vscard test {name}",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return cert, key

    def _leaf(self, ca, cn, prefix, ext):
        key, csr, cert = prefix + "-key.pem", prefix + ".csr", prefix + "-cert.pem"
        extfile = prefix + ".ext"
        with open(extfile, "w") as f:
            f.write(ext + "\n")
        self._run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                  "-subj", f"/CN={cn}")
        self._run("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
                  "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extfile)

    def client_dir(self, name, ca, with_cert=True):
        d = os.path.join(self.tmp, f"client-{name}")
        os.makedirs(d)
        self._copy(self.ca[0], os.path.join(d, "ca-cert.pem"))  # trusts QEMU's CA
        if with_cert:
            self._leaf(ca, f"vscclient {name}", os.path.join(d, "client"),
                       "extendedKeyUsage=clientAuth")
        return d


if __name__ == "__main__":
    unittest.main()
