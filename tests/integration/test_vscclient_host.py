# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient against a VSCard host played by the test (QEMU's side of the protocol).

The real-peer counterparts are test_vscclient_qemu.py (QEMU 7.2's passthru) and,
once vschost lands, the vschost-driven tests. This module covers what needs
exact control of the host: hostile input, restarts, the Reconnect extension.
"""
import os
import signal
import socket
import struct
import time
import unittest

from build_tree import program
import cac
import openssl_check
import vscard_peer as vp
from ports import free_port
from vscclient_env import ScriptedHost, Vscclient, host_handshake

SOFT_SUBJECTS = {"CN=vscard soft card ID,OU=soft-card,O=vscard",
                 "CN=vscard soft card signature,OU=soft-card,O=vscard",
                 "CN=vscard soft card encryption,OU=soft-card,O=vscard"}


def setUpModule():
    if program("vscclient") is None:
        raise unittest.SkipTest("vscclient is not built (meson -Dvscclient=disabled or missing deps)")


class SoftCardTest(unittest.TestCase):
    def test_reader_atr_certificates_and_signature(self):
        if not openssl_check.available():
            self.skipTest("openssl is not installed (package openssl)")
        with ScriptedHost() as host, Vscclient(["--soft-card"], host.port) as client:
            peer = host.accept()
            name, atr = host_handshake(peer)
            self.assertEqual(name, "Virtual Reader")   # the anchor sent no name at all
            self.assertEqual(atr[0], 0x3B)
            subjects = set()
            for aid in cac.PKI_AIDS:
                _, sw = cac.select(peer, aid)
                self.assertEqual(sw, b"\x90\x00")
                der = cac.read_certificate(peer)
                subjects.add(openssl_check.subject(der))
                message = b"signed by the vscard soft card " + aid
                signature = cac.sign_sha256(peer, message)
                self.assertEqual(len(signature), 256)
                self.assertTrue(openssl_check.verify_sha256(der, message, signature),
                                f"signature of {aid.hex()} does not verify")
            self.assertEqual(subjects, SOFT_SUBJECTS)
            self.assertIsNone(client.proc.poll())

    def test_soft_card_database_is_reused(self):
        with ScriptedHost() as host, Vscclient(["--soft-card"], host.port) as first:
            host_handshake(host.accept())
            cache = first.cache_dir
            with Vscclient(["--soft-card"], host.port, cache_dir=cache) as second:
                host_handshake(host.accept())
                self.assertNotIn("creating the soft-card", second.stderr())
            self.assertIn("creating the soft-card", first.stderr())

    def test_two_threads_main_and_libcacard(self):
        # Issue 19: libcacard's vscclient runs on two threads, so do we with a
        # soft card over plain TCP to an IP literal: the main loop and
        # libcacard's event thread. No GLib worker ("gmain"): signals come
        # through a signalfd, the connect needs no GTask (socket_connect.h).
        with ScriptedHost() as host, Vscclient(["--soft-card"], host.port) as client:
            peer = host.accept()
            host_handshake(peer)
            _, sw = cac.select(peer, cac.PKI_AIDS[0])
            self.assertEqual(sw, b"\x90\x00")
            tasks = f"/proc/{client.proc.pid}/task"
            names = []
            for tid in sorted(os.listdir(tasks)):
                with open(f"{tasks}/{tid}/comm") as f:
                    names.append(f.read().strip())
            self.assertEqual(names, ["vscclient", "vscclient"])

    def test_ipv6_host(self):
        try:
            host = ScriptedHost("::1")
        except OSError as e:
            self.skipTest(f"no IPv6 loopback here: {e}")
        with host, Vscclient(["--soft-card"], host.port, host="::1") as client:
            name, _ = host_handshake(host.accept())
            self.assertEqual(name, "Virtual Reader")
            self.assertIn("[::1]", client.stderr())


class CommandsTest(unittest.TestCase):
    def test_remove_insert_list_select_exit(self):
        with ScriptedHost() as host, Vscclient(["--soft-card"], host.port) as client:
            peer = host.accept()
            _, atr = host_handshake(peer)
            client.command("list")
            client.wait_output("  0 CARD_PRESENT Virtual Reader")
            client.command("remove")
            peer.expect(vp.CARD_REMOVE)
            peer.send(vp.error(vp.SUCCESS, 0))
            client.wait_output("remove Virtual Reader, returned 0")
            client.command("remove 0")
            client.wait_output("remove Virtual Reader, returned 1")
            client.command("insert 0")
            _, rid, again = peer.expect(vp.ATR)
            self.assertEqual((rid, again), (0, atr))
            peer.send(vp.error(vp.SUCCESS, 0))
            client.command("select 7")
            client.wait_output("Reader with id 7 not found")
            client.command("select 0")
            client.wait_output("Selecting reader 0, Virtual Reader")
            client.command("debug 1")
            client.wait_output("debug level = 1")
            client.command("frobnicate")
            client.wait_output("valid commands:")
            client.command("exit")
            # libcacard's vscclient: CardRemove first, then ReaderRemove.
            self.assertEqual(peer.recv()[:2], (vp.CARD_REMOVE, 0))
            self.assertEqual(peer.recv()[:2], (vp.READER_REMOVE, 0))
            self.assertEqual(client.wait(), 0)

    def test_sigterm_removes_card_and_reader_first(self):
        with ScriptedHost() as host, Vscclient(["--soft-card"], host.port) as client:
            peer = host.accept()
            host_handshake(peer)
            client.proc.terminate()
            self.assertEqual(peer.recv()[:2], (vp.CARD_REMOVE, 0))
            self.assertEqual(peer.recv()[:2], (vp.READER_REMOVE, 0))
            self.assertEqual(client.wait(), 0)

    def test_sigint_removes_card_and_reader_first(self):
        with ScriptedHost() as host, Vscclient(["--soft-card"], host.port) as client:
            peer = host.accept()
            host_handshake(peer)
            client.proc.send_signal(signal.SIGINT)
            self.assertEqual(peer.recv()[:2], (vp.CARD_REMOVE, 0))
            self.assertEqual(peer.recv()[:2], (vp.READER_REMOVE, 0))
            self.assertEqual(client.wait(), 0)

    def test_end_of_input_keeps_serving(self):
        with ScriptedHost() as host, Vscclient(["--soft-card"], host.port) as client:
            peer = host.accept()
            host_handshake(peer)
            client.proc.stdin.close()
            _, sw = cac.select(peer, cac.PKI_AIDS[0])
            self.assertEqual(sw, b"\x90\x00")
            self.assertIsNone(client.proc.poll())


class ReconnectTest(unittest.TestCase):
    def test_host_restart_reconnects_and_reannounces(self):
        with ScriptedHost() as host:
            port = host.port
            with Vscclient(["--soft-card", "--reconnect=2"], port) as client:
                peer = host.accept()
                _, atr = host_handshake(peer)
                # The host goes away entirely (listener included), then comes back.
                peer.close()
                host.close()
                time.sleep(1)
                with ScriptedHost.on_port(port) as again:
                    # Backoff is capped at 2 s (+20% jitter); 15 s only bounds a hang.
                    peer2 = again.accept(timeout=15)
                    name, atr2 = host_handshake(peer2)
                    self.assertEqual((name, atr2), ("Virtual Reader", atr))
                    _, sw = cac.select(peer2, cac.PKI_AIDS[0])
                    self.assertEqual(sw, b"\x90\x00")
                self.assertIn("reconnecting", client.stderr())

    def test_no_reconnect_host_ends_session_cleanly_is_exit_0(self):
        # libcacard's vscclient also exits 0 when the host closes in order.
        with ScriptedHost() as host, Vscclient(["--soft-card", "--no-reconnect"], host.port) as c:
            peer = host.accept()
            host_handshake(peer)
            peer.close()
            self.assertEqual(c.wait(), 0)
            self.assertIn("ended the session", c.stderr())

    def test_no_reconnect_connection_reset_is_exit_1(self):
        with ScriptedHost() as host, Vscclient(["--soft-card", "--no-reconnect"], host.port) as c:
            peer = host.accept()
            host_handshake(peer)
            # SO_LINGER 0: close() sends RST, a broken connection, not an end.
            peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            peer.close()
            self.assertEqual(c.wait(), 1)
            self.assertIn("ended", c.stderr())

    def test_once_waits_for_host_and_ends_with_session(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with Vscclient(["--soft-card", "--once", "--reconnect=1"], port) as c:
            time.sleep(1.5)   # nothing listens yet: --once keeps trying
            self.assertIsNone(c.proc.poll())
            with ScriptedHost.on_port(port) as host:
                peer = host.accept()
                host_handshake(peer)
                peer.close()
                self.assertEqual(c.wait(), 0)

    def test_once_host_closes_before_handshake_is_exit_1(self):
        with ScriptedHost() as host, Vscclient(["--soft-card", "--once"], host.port) as c:
            peer = host.accept()
            peer.expect(vp.INIT)
            peer.close()
            self.assertEqual(c.wait(), 1)

    def test_nothing_listening_no_reconnect_is_exit_5(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with Vscclient(["--soft-card", "--no-reconnect"], port) as c:
            self.assertEqual(c.wait(), 5)   # the anchor's "cannot connect" status
            self.assertIn(str(port), c.stderr())

    def test_reconnect_extension_moves_to_new_host(self):
        with ScriptedHost() as old, ScriptedHost("127.0.0.1") as new, \
                Vscclient(["--soft-card"], old.port) as client:
            peer = old.accept()
            _, _, payload = peer.expect(vp.INIT)
            caps = struct.unpack(">I", payload[8:12])[0]
            self.assertTrue(caps & vp.CAP_RECONNECT, "our Init advertises Reconnect")
            peer.send(vp.init(caps=(vp.CAP_RECONNECT,)))
            peer.expect(vp.READER_ADD)
            peer.send(vp.error(vp.SUCCESS, 0))
            peer.expect(vp.ATR)
            peer.send(vp.error(vp.SUCCESS, 0))
            field = lambda s: s.encode().ljust(128, b"\0")
            peer.send(vp.msg(vp.RECONNECT, 0, field("127.0.0.1") + field(str(new.port))))
            peer2 = new.accept()
            name, _ = host_handshake(peer2)
            self.assertEqual(name, "Virtual Reader")
            # Only after the new connection stands is the old one dropped.
            with self.assertRaises(vp.PeerClosed):
                while True:
                    peer.recv(timeout=10)
            _, sw = cac.select(peer2, cac.PKI_AIDS[0])
            self.assertEqual(sw, b"\x90\x00")
            self.assertIsNone(client.proc.poll())


class HostileHostTest(unittest.TestCase):
    """Malformed host input: a logged error and a clean disconnect or an Error
    reply; vscclient never crashes and comes back (reconnect)."""

    def run_hostile(self, payload, expect_close):
        with ScriptedHost() as host, Vscclient(["--soft-card", "--reconnect=1"], host.port) as c:
            peer = host.accept()
            host_handshake(peer)
            peer.send(payload)
            if expect_close:
                with self.assertRaises(vp.PeerClosed):
                    while True:
                        peer.recv(timeout=10)
                # Still alive: it reconnects and offers the card again.
                host_handshake(host.accept(timeout=15))
            else:
                # The session goes on: a real APDU still works.
                _, sw = cac.select(peer, cac.PKI_AIDS[0])
                self.assertEqual(sw, b"\x90\x00")
            self.assertIsNone(c.proc.poll(), c.stderr())
            self.assertIn("vscclient: warning: ", c.stderr())
            return peer

    def test_oversize_length(self):
        self.run_hostile(struct.pack(">III", vp.APDU, 0, 0x7FFFFFF0), expect_close=True)

    def test_garbage(self):
        self.run_hostile(bytes(range(256)) * 4, expect_close=True)

    def test_unknown_type(self):
        self.run_hostile(vp.msg(99, 0, b"\x01\x02"), expect_close=False)

    def test_apdu_for_unknown_reader(self):
        with ScriptedHost() as host, Vscclient(["--soft-card"], host.port) as c:
            peer = host.accept()
            host_handshake(peer)
            peer.send(vp.apdu(bytes.fromhex("00A4040000"), 7))
            mtype, rid, payload = peer.recv()
            self.assertEqual((mtype, rid), (vp.ERROR, 7))
            self.assertEqual(struct.unpack(">I", payload)[0], vp.GENERAL_ERROR)
            self.assertIsNone(c.proc.poll())

    def test_apdu_longer_than_anchor_buffer(self):
        # libcacard's vscclient read this into a 270-byte buffer (overflow).
        with ScriptedHost() as host, Vscclient(["--soft-card"], host.port) as c:
            peer = host.accept()
            host_handshake(peer)
            response = cac.xfr(peer, bytes.fromhex("002A9E9A00012C") + b"\xAB" * 300)
            self.assertEqual(len(response), 2)
            self.assertIsNone(c.proc.poll())


class TraceTest(unittest.TestCase):
    def test_trace_redacts_pin(self):
        verify = bytes.fromhex("0020008008") + b"12345678"
        with ScriptedHost() as host, Vscclient(["--soft-card", "--trace"], host.port) as c:
            peer = host.accept()
            host_handshake(peer)
            cac.select(peer, cac.PKI_AIDS[0])
            cac.xfr(peer, verify)
            c.wait_output("APDU > Virtual Reader: 00 20 00 80", stream="stderr")
            self.assertNotIn("31 32 33 34", c.stderr())
            self.assertIn("redacted", c.stderr())

    def test_trace_unredacted(self):
        verify = bytes.fromhex("0020008008") + b"12345678"
        with ScriptedHost() as host, Vscclient(["--soft-card", "--trace=unredacted"],
                                               host.port) as c:
            peer = host.accept()
            host_handshake(peer)
            cac.xfr(peer, verify)
            c.wait_output("31 32 33 34 35 36 37 38", stream="stderr")


class CardControlLogTest(unittest.TestCase):
    """docs/vicc.md: vscclient's -v logs each CardControl event (vicc itself
    logs the frames it gets only at -vvv, its INFO level); without -v nothing."""

    def power_cycle(self, flags):
        with ScriptedHost() as host, Vscclient(["--soft-card", *flags], host.port) as c:
            peer = host.accept()
            host_handshake(peer, caps=(vp.CAP_CARD_CONTROL,))
            peer.send(vp.msg(vp.CARD_CONTROL, 0, struct.pack(">I", vp.POWER_OFF)))
            peer.send(vp.msg(vp.CARD_CONTROL, 0, struct.pack(">I", vp.POWER_ON)))
            peer.expect(vp.ATR)  # both events are handled by now
            return c.stderr()

    def test_power_events_logged_at_v(self):
        err = self.power_cycle(["-v"])
        self.assertIn("host: power off for the card in", err)
        self.assertIn("host: power on for the card in", err)

    def test_power_events_not_logged_without_v(self):
        err = self.power_cycle([])
        self.assertNotIn("power off", err)
        self.assertNotIn("power on", err)


class MessagesTest(unittest.TestCase):
    """Every stderr line in one format; a host that stays away is said once."""

    def assert_one_format(self, text):
        for line in text.splitlines():
            self.assertTrue(line.startswith("vscclient: "), f"line not in vscclient's format: {line!r}")
        self.assertNotIn("(process:", text)
        self.assertNotIn("WARNING **", text)

    def test_host_absent_one_warning_then_one_recovery_line(self):
        port = free_port()
        with Vscclient(["--soft-card", "--reconnect=1"], port) as c:
            time.sleep(4)   # several attempts, at most 1 s (+jitter) apart
            with ScriptedHost.on_port(port) as host:
                peer = host.accept(timeout=15)
                host_handshake(peer)
                c.wait_output(f"connected to 127.0.0.1:{port} again, after ", stream="stderr")
            err = c.stderr()
        warnings = [line for line in err.splitlines() if line.startswith("vscclient: warning: ")]
        self.assertEqual(len(warnings), 1, err)
        self.assertIn(f"vscclient: warning: cannot connect to 127.0.0.1:{port}: connection refused",
                      warnings[0])
        attempts = int(err.split(" again, after ")[1].split(" ")[0])
        self.assertGreaterEqual(attempts, 3, err)
        self.assert_one_format(err)

    def test_fatal_error_is_one_error_line(self):
        port = free_port()
        with Vscclient(["--soft-card", "--no-reconnect"], port) as c:
            self.assertEqual(c.wait(), 5)
            err = c.stderr()
        self.assert_one_format(err)
        errors = [line for line in err.splitlines() if line.startswith("vscclient: error: ")]
        self.assertEqual(errors, [f"vscclient: error: cannot connect to 127.0.0.1:{port}: "
                                  "connection refused (is vschost or QEMU listening there?)"])

    def test_unknown_host_is_said_once(self):
        with Vscclient(["--soft-card", "--no-reconnect"], 2001, host="no-such-host.invalid") as c:
            self.assertEqual(c.wait(), 5)
            err = c.stderr()
        self.assertEqual(err.count("cannot connect to"), 1, err)
        self.assert_one_format(err)


class UsageTest(unittest.TestCase):
    def test_anchor_usage_error_is_4(self):
        with Vscclient([], None) as c:
            self.assertEqual(c.wait(), 4)
            self.assertIn("HOST and PORT", c.stderr())

    def test_help_and_version(self):
        with Vscclient(["--help"], None) as c:
            self.assertEqual(c.wait(), 0)
            self.assertIn("--soft-card", c.stdout())
        with Vscclient(["--version"], None) as c:
            self.assertEqual(c.wait(), 0)
            self.assertTrue(c.stdout().startswith("vscclient "))


if __name__ == "__main__":
    unittest.main()
