# SPDX-License-Identifier: LGPL-2.1-or-later
"""vschost --export-pcsc against the real PC/SC stack (issue 7).

card -> vscclient -> VSCard -> vschost --export-pcsc -> vpcd -> our pcscd -> OpenSC.
Everything on the right is middleware nobody here wrote: pcscd with vsmartcard's
vpcd driver, opensc-tool, OpenSC's PKCS#11 module through pkcs11-tool, openssl.
"""
import os
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from build_tree import program
import export_chain as ec
import pcsc_env

R0 = pcsc_env.reader_name(0)
R1 = pcsc_env.reader_name(1)
PIN = "77777777"  # any PIN opens the soft card's NSS database (empty password)


class SoftCardExportTest(unittest.TestCase):
    """vscclient --soft-card (libcacard's CAC over NSS) exported to vpcd slot 0."""

    def setUp(self):
        self.chain = ec.ExportChain(self)
        if not os.path.exists(ec.OPENSC_PKCS11):
            self.skipTest(f"{ec.OPENSC_PKCS11} missing (package opensc-pkcs11)")
        self.env = self.chain.pcsc()
        self.host = self.chain.vschost("--export-pcsc")

    def start_client(self):
        client = self.chain.vscclient(self.host.port, "--soft-card")
        self.wait_card(True)
        return client

    def wait_card(self, present, timeout=60):
        try:
            self.env.wait_card(R0, present=present, timeout=timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.chain.logs()}") from None

    def test_no_client_means_no_card(self):
        # Nothing connects to vpcd without a VSCard card to show.
        self.host.wait_output(r"listening on")
        self.assertFalse(self.env.card_present(R0), self.env.readers())
        self.assertFalse(self.env.card_present(R1), self.env.readers())

    def test_opensc_lists_reader_with_card_and_cac_atr(self):
        self.start_client()
        readers = {name: present for _, name, present in self.env.readers()}
        self.assertEqual(readers.get(R0), True, readers)
        self.assertEqual(readers.get(R1), False, readers)
        self.assertEqual(ec.opensc_atr(self.env, R0), ec.CAC_ATR)
        self.host.wait_output(r"export: client \d+ '.*' -> vpcd slot 0 \(127\.0\.0\.1:%d\)"
                              % pcsc_env.vpcd_port(0))

    def test_pkcs11_lists_the_three_certificates(self):
        self.start_client()
        r = ec.pkcs11_tool("-L", "-O")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.chain.logs())
        self.assertIn(R0, r.stdout)
        certs = re.findall(r"^Certificate Object", r.stdout, re.M)
        self.assertEqual(len(certs), 3, r.stdout)
        for cn in ("vscard soft card ID", "vscard soft card signature",
                   "vscard soft card encryption"):
            self.assertIn(cn, r.stdout)

    def test_pkcs11_signature_verifies_with_the_certificate(self):
        self.start_client()
        r = ec.pkcs11_tool("-O", "--type", "privkey", "--login", "--pin", PIN)
        ids = re.findall(r"^\s*ID:\s*([0-9a-fA-F]+)\s*$", r.stdout, re.M)
        self.assertTrue(ids, r.stdout + r.stderr + self.chain.logs())
        key_id = ids[0]
        with tempfile.TemporaryDirectory() as tmp:
            data, sig, cert = (os.path.join(tmp, n) for n in ("data", "sig", "cert.der"))
            with open(data, "wb") as f:
                f.write(b"signed by a card exported through vpcd\n")
            r = ec.pkcs11_tool("--sign", "--login", "--pin", PIN, "--id", key_id,
                               "-m", "SHA256-RSA-PKCS", "-i", data, "-o", sig)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.chain.logs())
            r = ec.pkcs11_tool("--read-object", "--type", "cert", "--id", key_id, "-o", cert)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            pub = os.path.join(tmp, "pub.pem")
            subprocess.run(["openssl", "x509", "-inform", "DER", "-in", cert, "-noout",
                            "-pubkey", "-out", pub], check=True, capture_output=True)
            v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig,
                                data], capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
            self.assertIn("Verified OK", v.stdout)
            # And a signature over other data does not verify: the check is real.
            with open(data, "ab") as f:
                f.write(b"tampered")
            v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig,
                                data], capture_output=True, text=True)
            self.assertNotEqual(v.returncode, 0)

    def test_card_removal_and_insert_at_the_client(self):
        client = self.start_client()
        client.command("remove")
        self.wait_card(False)
        client.command("insert")
        self.wait_card(True)
        self.assertEqual(ec.opensc_atr(self.env, R0), ec.CAC_ATR)

    def test_client_disconnect_and_reconnect(self):
        client = self.start_client()
        client.stop()
        self.wait_card(False)
        self.host.wait_output(r"disconnecting: the card was removed")
        self.start_client()
        self.assertEqual(ec.opensc_atr(self.env, R0), ec.CAC_ATR)

    def test_pcscd_restart_export_reconnects(self):
        client = self.start_client()
        self.env.restart_pcscd(restart_cards=False)
        self.wait_card(True)
        self.host.wait_output(r"vpcd closed the connection")
        self.assertTrue(client.alive() and self.host.alive())
        self.assertEqual(ec.opensc_atr(self.env, R0), ec.CAC_ATR)
        r = ec.pkcs11_tool("-O")
        self.assertEqual(len(re.findall(r"^Certificate Object", r.stdout, re.M)), 3, r.stdout)

    def test_atr_polls_are_not_logged_at_normal_verbosity(self):
        # vpcd asks for the ATR about once a second: -v logs none of it (-vv does).
        self.start_client()
        ec.opensc_atr(self.env, R0)
        # opensc-tool's connect made vpcd power the card on: that is logged at -v,
        # so the log is known to be current when the poll lines are counted.
        self.host.wait_output(r"vpcd slot 0: power on")
        self.assertNotIn("get ATR", self.host.output())


class ScriptedClientExportTest(unittest.TestCase):
    """A VSCard client played by the test (lib/vscard_peer.py) exported to the
    real pcscd: exact control over what the client answers, Error included."""

    def setUp(self):
        import vscard_peer
        self.vp = vscard_peer
        self.chain = ec.ExportChain(self, need_vscclient=False)
        self.env = self.chain.pcsc()
        self.host = self.chain.vschost("--export-pcsc")
        self.peer = vscard_peer.Peer.connect("127.0.0.1", self.host.port)
        self.addCleanup(self.peer.close)
        self.rid = self.peer.handshake(reader_name=b"Scripted Reader")
        self.seen = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        self.addCleanup(self.stop.set)
        self.env.wait_card(R0, timeout=30)

    def serve(self):
        """The card: GET CHALLENGE -> 8 random bytes 9000, INS EE -> VSCard
        Error(general), INS B0 -> Le bytes i & 0xFF (Le 00 = 256) 9000, else 6A81."""
        while not self.stop.is_set():
            try:
                mtype, rid, payload = self.peer.recv(0.2)
            except socket.timeout:
                continue
            except (self.vp.PeerClosed, OSError):
                return
            if mtype != self.vp.APDU:
                continue
            self.seen.append(payload.hex().upper())
            ins = payload[1]
            if ins == 0xEE:
                self.peer.send(self.vp.error(self.vp.GENERAL_ERROR, rid))
            elif ins == 0x84:
                self.peer.send(self.vp.apdu(os.urandom(payload[4]) + b"\x90\x00", rid))
            elif ins == 0xB0:
                n = payload[4] or 256
                self.peer.send(self.vp.apdu(bytes(i & 0xFF for i in range(n)) + b"\x90\x00", rid))
            else:
                self.peer.send(self.vp.apdu(b"\x6A\x81", rid))

    def test_atr_and_apdus_reach_opensc_unchanged(self):
        self.assertEqual(ec.opensc_atr(self.env, R0), self.vp.VICC_ATR.hex().upper())
        results, out = self.env.send_apdus(R0, ["0084000008", "0084000008", "00B0000000",
                                                "00CA010000"])
        self.assertEqual([sw for _, sw in results], ["9000", "9000", "9000", "6A81"], out)
        self.assertNotEqual(results[0][0], results[1][0])
        self.assertEqual(results[2][0], "".join(f"{i:02X}" for i in range(256)))
        # The commands arrived byte for byte as opensc-tool sent them.
        self.assertIn("00CA010000", self.seen)

    def test_client_error_is_a_removed_card_then_the_card_is_back(self):
        results, out = self.env.send_apdus(R0, ["00EE000000", "0084000008"])
        # No status word is made up: the command fails (the card "went") ...
        self.assertFalse(results and results[0][1] == "9000", out)
        self.host.wait_output(r"disconnecting: the client answered the APDU with VSCard Error 1")
        # ... and since the client still has its card, vschost connects to vpcd
        # again, and the card answers once vpcd has taken the new connection
        # (it accepts at its next presence poll).
        self.host.wait_output(r"(card of 'Scripted Reader' inserted[\s\S]*){2}")
        self.env.wait_card(R0, timeout=30)
        deadline = time.monotonic() + 30
        while True:
            results, out = self.env.send_apdus(R0, ["0084000008"])
            if [sw for _, sw in results] == ["9000"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual([sw for _, sw in results], ["9000"], out + self.chain.logs())

    def test_card_remove_message_and_new_atr(self):
        self.peer.send(self.vp.msg(self.vp.CARD_REMOVE, self.rid))
        self.env.wait_card(R0, present=False, timeout=30)
        other = bytes.fromhex(ec.CAC_ATR)
        self.peer.send(self.vp.atr(other, self.rid))
        self.env.wait_card(R0, timeout=30)
        self.assertEqual(ec.opensc_atr(self.env, R0), other.hex().upper())

    def test_reader_remove_and_client_disconnect(self):
        self.peer.send(self.vp.msg(self.vp.READER_REMOVE, self.rid))
        self.env.wait_card(R0, present=False, timeout=30)
        self.host.wait_output(r"disconnecting: the card was removed")


class MultiReaderExportTest(unittest.TestCase):
    """--mode multi: each VSCard reader of a client takes its own vpcd slot."""

    def setUp(self):
        import vscard_peer
        self.vp = vscard_peer
        self.chain = ec.ExportChain(self, need_vscclient=False)
        self.env = self.chain.pcsc()

    def connect(self, *host_args, names=(b"Reader A", b"Reader B")):
        vp = self.vp
        self.host = self.chain.vschost("--mode", "multi", "--export-pcsc", *host_args)
        peer = vp.Peer.connect("127.0.0.1", self.host.port)
        self.addCleanup(peer.close)
        peer.send(vp.init())
        peer.expect(vp.INIT)
        rids = {}
        for name in names:
            peer.send(vp.reader_add(name))
            _, rid, payload = peer.expect(vp.ERROR)
            self.assertEqual(payload, struct.pack(">I", vp.SUCCESS))
            peer.send(vp.atr(vp.VICC_ATR, rid))
            peer.expect_error(vp.SUCCESS, rid)
            rids[rid] = name
        stop = threading.Event()
        self.addCleanup(stop.set)

        def serve():
            # GET DATA (INS CA) answers the reader's name: which card answered.
            while not stop.is_set():
                try:
                    mtype, rid, payload = peer.recv(0.2)
                except socket.timeout:
                    continue
                except (vp.PeerClosed, OSError):
                    return
                if mtype == vp.APDU:
                    peer.send(vp.apdu(rids.get(rid, b"?") + b"\x90\x00", rid))

        threading.Thread(target=serve, daemon=True).start()
        return peer

    def test_two_readers_two_slots_each_its_own_card(self):
        self.connect()
        self.env.wait_card(R0, timeout=30)
        self.env.wait_card(R1, timeout=30)
        for reader, name in ((R0, b"Reader A"), (R1, b"Reader B")):
            results, out = self.env.send_apdus(reader, ["00CA000000"])
            self.assertEqual(results, [(name.hex().upper(), "9000")], out + self.chain.logs())

    def test_readers_beyond_the_slots_are_not_exported(self):
        self.connect("--export-slots=1")
        self.env.wait_card(R0, timeout=30)
        self.host.wait_output(r"'Reader B' is not exported: all 1 vpcd slots are taken")
        self.assertFalse(self.env.card_present(R1))
        results, out = self.env.send_apdus(R0, ["00CA000000"])
        self.assertEqual(results, [(b"Reader A".hex().upper(), "9000")], out)


class ViccRelayedTwiceTest(unittest.TestCase):
    """vicc in vpcd slot 0 -> vscclient --pcsc -> vschost --export-pcsc -> vpcd
    slot 1: a card relayed twice over PC/SC."""

    def setUp(self):
        self.chain = ec.ExportChain(self, need_pcsc_client=True)
        self.env = self.chain.pcsc()
        self.env.start_vicc(0)
        self.env.wait_card(0)
        self.host = self.chain.vschost("--export-pcsc=127.0.0.1:%d" % pcsc_env.vpcd_port(1))
        # --raw: the far end is a PC/SC reader (vpcd), not QEMU's T=0-only
        # usb-ccid, so the card goes through as it is (docs/export-pcsc.md).
        self.client = self.chain.vscclient(self.host.port, "--pcsc=" + R0, "--raw")
        self.wait_card(True)

    def wait_card(self, present, timeout=30):
        try:
            self.env.wait_card(R1, present=present, timeout=timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.chain.logs()}") from None

    def test_same_atr_in_both_readers(self):
        self.assertEqual(ec.opensc_atr(self.env, R1), ec.opensc_atr(self.env, R0))

    def test_select_and_get_challenge_through_opensc_tool(self):
        # P2=0C: Debian's vicc dies on SELECT with P2=00 (FCP).
        results, out = self.env.send_apdus(R1, ["00A4000C023F00", "0084000008",
                                                "0084000008", "00FF000000"])
        self.assertEqual(len(results), 4, out + self.chain.logs())
        self.assertEqual(results[0], ("", "9000"), out)
        self.assertEqual((len(results[1][0]), results[1][1]), (16, "9000"), out)
        self.assertEqual((len(results[2][0]), results[2][1]), (16, "9000"), out)
        self.assertNotEqual(results[1][0], results[2][0], out)
        # The card's own status for an unknown instruction, not one made up on the way.
        self.assertEqual(results[3], ("", "6D00"), out)

    def test_card_removed_and_back(self):
        self.env.stop_card(0)
        self.wait_card(False)
        self.env.start_vicc(0)
        self.wait_card(True)
        results, out = self.env.send_apdus(R1, ["00A4000C023F00"])
        self.assertEqual(results, [("", "9000")], out)


class FakeVpcdTest(unittest.TestCase):
    """The vpcd side played by the test, byte for byte (frames: 2-byte big-endian
    length + data; 1-byte control frames 0 off, 1 on, 2 reset, 4 get ATR), to
    check what vschost answers and how it treats a peer that breaks the rules."""

    def setUp(self):
        import vscard_peer
        self.vp = vscard_peer
        self.chain = ec.ExportChain(self, need_vscclient=False)
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.server.settimeout(30)
        self.addCleanup(self.server.close)
        port = self.server.getsockname()[1]
        self.host = self.chain.vschost(f"--export-pcsc=127.0.0.1:{port}", "--export-slots=1")
        self.peer = vscard_peer.Peer.connect("127.0.0.1", self.host.port)
        self.addCleanup(self.peer.close)
        self.rid = self.peer.handshake()
        self.stop = threading.Event()
        self.addCleanup(self.stop.set)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stop.is_set():
            try:
                mtype, rid, payload = self.peer.recv(0.2)
            except socket.timeout:
                continue
            except (self.vp.PeerClosed, OSError):
                return
            if mtype == self.vp.APDU:
                self.peer.send(self.vp.apdu(payload[:4] + b"\x90\x00", rid))

    def accept(self):
        conn, _ = self.server.accept()
        conn.settimeout(30)
        self.addCleanup(conn.close)
        return conn

    @staticmethod
    def frame(data):
        return struct.pack(">H", len(data)) + data

    @staticmethod
    def read_frame(conn):
        head = b""
        while len(head) < 2:
            chunk = conn.recv(2 - len(head))
            if not chunk:
                return None
            head += chunk
        n = struct.unpack(">H", head)[0]
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def test_control_frames_and_apdus(self):
        conn = self.accept()  # the card is in: vschost connects
        conn.sendall(self.frame(b"\x04"))
        self.assertEqual(self.read_frame(conn), self.vp.VICC_ATR)
        # Power on/off and reset get no answer: the next frame vschost sends
        # is the answer to the get ATR that follows them.
        conn.sendall(self.frame(b"\x01") + self.frame(b"\x02") + self.frame(b"\x00")
                     + self.frame(b"\x07") + self.frame(b"\x04"))
        self.assertEqual(self.read_frame(conn), self.vp.VICC_ATR)
        # An APDU split at every byte still arrives whole at the client.
        for b in self.frame(bytes.fromhex("00A4000C023F00")):
            conn.sendall(bytes([b]))
        self.assertEqual(self.read_frame(conn), bytes.fromhex("00A4000C9000"))

    def test_frame_before_the_answer_closes_and_vschost_comes_back(self):
        conn = self.accept()
        # Two frames without waiting for the APDU's answer: vpcd never does that
        # (it holds a lock per slot until the answer), so vschost drops the
        # connection ...
        conn.sendall(self.frame(bytes.fromhex("0084000008")) + self.frame(b"\x04"))
        self.assertIsNone(self.read_frame(conn))
        self.host.wait_output(r"disconnecting: vpcd sent a frame before the answer to its APDU")
        # ... and, the card still being there, connects again.
        conn2 = self.accept()
        conn2.sendall(self.frame(b"\x04"))
        self.assertEqual(self.read_frame(conn2), self.vp.VICC_ATR)

    def test_client_gone_closes_the_vpcd_connection(self):
        conn = self.accept()
        self.stop.set()
        self.peer.close()
        self.assertIsNone(self.read_frame(conn))


class ExportOptionsTest(unittest.TestCase):
    def setUp(self):
        self.path = program("vschost")
        if self.path is None:
            self.skipTest("vschost is not built")
        if not ec.has_option(self.path, "--export-pcsc"):
            self.skipTest("vschost was built without --export-pcsc")

    def run_host(self, *args):
        return subprocess.run([self.path, "--no-interactive", "--listen", "127.0.0.1:0", *args],
                              capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)

    def test_bad_addresses_are_usage_errors(self):
        for arg, text in (("--export-pcsc=unix:/tmp/x", "HOST:PORT"),
                          ("--export-pcsc=127.0.0.1:0", "HOST:PORT"),
                          ("--export-pcsc=nonsense", "--export-pcsc"),
                          ("--export-slots=0", "--export-slots")):
            r = self.run_host(arg, "--export-pcsc" if arg.startswith("--export-slots") else "-v")
            self.assertEqual(r.returncode, 2, (arg, r.stderr))
            self.assertIn(text, r.stderr, arg)

    def test_no_vpcd_is_one_warning_not_an_exit(self):
        # A port nothing listens on: the export keeps retrying quietly, the host runs.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        chain = ec.ExportChain(self, need_vscclient=False)
        host = chain.vschost(f"--export-pcsc=127.0.0.1:{port}", "--export-slots=1")
        # A VSCard card appears through a scripted peer so the export tries to connect.
        import vscard_peer
        with vscard_peer.Peer.connect("127.0.0.1", host.port) as peer:
            peer.handshake()
            host.wait_output(r"vpcd slot 0: cannot connect to 127\.0\.0\.1:%d" % port)
            # Three more attempts (debug lines at -v), still one warning.
            host.wait_output(r"(retry in \d+ ms[\s\S]*){3}")
            self.assertTrue(host.alive())
            # (The qemu_limit warning for the peer's T=1-only ATR also says
            # "cannot connect"; only the export's warning counts here.)
            warnings = re.findall(r"(?m)^vschost: warning: export: vpcd slot 0: cannot connect",
                                  host.output())
            self.assertEqual(len(warnings), 1, host.output())


if __name__ == "__main__":
    unittest.main()
