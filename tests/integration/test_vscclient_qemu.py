# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient against the real peer: QEMU 7.2's ccid-card-passthru (paused, no guest).

What QEMU's side shows without a guest: it accepts our Init, ReaderAdd and ATR
(its check_atr rule), CardRemove/ReaderRemove, and keeps the connection. Card
traffic through a guest is covered by test_qemu_guest.py.
"""
import time
import unittest

from build_tree import program
from qemu_passthru import QemuPassthru, QemuUnavailable
from vscclient_env import Vscclient


def setUpModule():
    if program("vscclient") is None:
        raise unittest.SkipTest("vscclient is not built")


class QemuPassthruTest(unittest.TestCase):
    def start_qemu(self, host="127.0.0.1"):
        qemu = QemuPassthru(host=host)
        try:
            qemu.start()
        except QemuUnavailable as e:
            self.skipTest(str(e))
        except OSError as e:
            self.skipTest(f"cannot listen on {host}: {e}")
        self.addCleanup(qemu.stop)
        return qemu

    def test_soft_card_accepted_and_commands(self):
        qemu = self.start_qemu()
        with Vscclient(["--soft-card", "-v"], qemu.port) as client:
            client.wait_output("host accepted reader Virtual Reader as reader id 0",
                               stream="stderr")
            client.command("list")
            client.wait_output("  0 CARD_PRESENT Virtual Reader")
            client.command("remove")
            client.wait_output("remove Virtual Reader, returned 0")
            client.command("insert")
            client.wait_output("insert Virtual Reader, returned 0")
            client.command("list")
            deadline = time.monotonic() + 10
            while client.stdout().count("CARD_PRESENT") < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            client.command("exit")
            self.assertEqual(client.wait(), 0)
            err = client.stderr()
            # QEMU answered every announcement with success: no refusal logged.
            for refusal in ("refused", "broke the protocol", "reported error"):
                self.assertNotIn(refusal, err)
            self.assertIsNone(qemu.proc.poll(), "QEMU must survive the session")

    def test_ipv6_to_qemu(self):
        qemu = self.start_qemu("::1")
        with Vscclient(["--soft-card"], qemu.port, host="::1") as client:
            client.wait_output("host accepted reader", stream="stderr")
            self.assertIn("[::1]", client.stderr())

    def test_qemu_restart_reconnects(self):
        # Both QEMUs listen with SO_REUSEADDR: Linux refuses the port to the
        # second one otherwise while the first one's connection is in TIME_WAIT.
        qemu = _qemu_on_port(0)
        if qemu is None:
            self.skipTest("QEMU could not start")
        self.addCleanup(qemu.stop)
        port = qemu.port
        with Vscclient(["--soft-card", "--reconnect=2"], port) as client:
            client.wait_output("host accepted reader", stream="stderr")
            qemu.stop()
            client.wait_output("reconnecting", stream="stderr")
            # A restarted QEMU listens on the same port again.
            restarted = _qemu_on_port(port)
            if restarted is None:
                self.skipTest(f"port {port} could not be reused for the restarted QEMU")
            self.addCleanup(restarted.stop)
            deadline = time.monotonic() + 20
            while client.stderr().count("host accepted reader") < 2:
                self.assertLess(time.monotonic(), deadline, client.stderr())
                time.sleep(0.05)


def _qemu_on_port(port):
    """A QemuPassthru listening on `port` (None if the port is taken)."""
    import socket as _socket

    class Fixed(QemuPassthru):
        def start(self):
            original = _socket.socket.bind

            def bind(sock, address):
                # The old QEMU's side of the connection may sit in TIME_WAIT.
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
                return original(sock, (address[0], port))
            _socket.socket.bind = bind
            try:
                super().start()
            finally:
                _socket.socket.bind = original
    q = Fixed()
    try:
        q.start()
    except (OSError, QemuUnavailable) as e:
        print(f"# restarted QEMU: {e}")
        return None
    return q


if __name__ == "__main__":
    unittest.main()
