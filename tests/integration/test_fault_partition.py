# SPDX-License-Identifier: LGPL-2.1-or-later
"""A silent network partition between vscclient and its host (issue 9).

The test builds its own network: a namespace for vscclient joined to the test's
namespace by a veth pair (10.231.N.1 here, 10.231.N.2 there). vschost listens on
10.231.N.1; vscclient, inside the namespace, connects with --keepalive
IDLE,INTERVAL,COUNT. Once the session is up and idle, the host-side veth goes
down: no FIN, no RST, nothing -- the partition is silent, and only TCP keepalive
can notice it. vscclient must report the dead connection (after about
IDLE + INTERVAL x COUNT seconds; the measured time is printed) and, when the
link comes back, reconnect and announce its reader and card again.

Needs root (CAP_NET_ADMIN) and `ip netns`; skips with the reason otherwise.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from build_tree import program, program_path
from vschost_proc import VschostProcess

IDLE, INTERVAL, COUNT = 2, 1, 3
IP = "/usr/sbin/ip"


def ip(*args, check=True):
    return subprocess.run([IP, *args], check=check, capture_output=True, text=True)


class Netns:
    """A namespace with a veth pair to the current one; removed in close()."""

    def __init__(self):
        n = os.getpid() % 250 + 1
        self.name = f"vscard-part-{os.getpid()}"
        self.outer, self.inner = f"vsp{os.getpid()}h", f"vsp{os.getpid()}c"
        self.host_ip, self.client_ip = f"10.231.{n}.1", f"10.231.{n}.2"
        self.created = False

    def create(self):
        ip("netns", "add", self.name)
        self.created = True
        ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        ip("link", "set", self.inner, "netns", self.name)
        ip("addr", "add", f"{self.host_ip}/30", "dev", self.outer)
        ip("link", "set", self.outer, "up")
        ip("-n", self.name, "addr", "add", f"{self.client_ip}/30", "dev", self.inner)
        ip("-n", self.name, "link", "set", self.inner, "up")
        ip("-n", self.name, "link", "set", "lo", "up")

    def set_link(self, up):
        ip("link", "set", self.outer, "up" if up else "down")

    def close(self):
        ip("link", "del", self.outer, check=False)
        if self.created:
            ip("netns", "del", self.name, check=False)


class PartitionTest(unittest.TestCase):
    def setUp(self):
        if program("vschost") is None or program("vscclient") is None:
            self.skipTest("vschost and vscclient must be built (VSCARD_BUILD_DIR)")
        if os.geteuid() != 0 or not os.path.exists(IP):
            self.skipTest("network namespaces need root and iproute2's ip")
        self.netns = Netns()
        try:
            self.netns.create()
        except subprocess.CalledProcessError as e:
            self.netns.close()
            self.skipTest(f"cannot create a network namespace with a veth pair: {e.stderr.strip()}")
        self.host = None
        self.client = None
        self.tmp = tempfile.mkdtemp(prefix="vscard-partition-")
        self.err_path = os.path.join(self.tmp, "vscclient.stderr")

    def tearDown(self):
        if self.client and self.client.poll() is None:
            self.client.kill()
            self.client.wait()
        if self.host:
            self.host.stop()
        self.netns.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def client_log(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def wait_for(self, what, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return time.monotonic()
            if self.client.poll() is not None:
                self.fail(f"vscclient exited ({self.client.returncode}) waiting for {what}:\n"
                          + self.client_log()[-3000:])
            time.sleep(0.1)
        self.fail(f"timed out waiting for {what}:\nvscclient: {self.client_log()[-3000:]}\n"
                  f"vschost: {self.host.stderr_text()[-3000:]}")

    def test_keepalive_notices_silent_partition_and_reconnects(self):
        self.host = VschostProcess(["--mode", "qemu", "-v"], listen=(f"{self.netns.host_ip}:0",))
        self.host.start()
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(self.tmp, "cache"))
        env.pop("G_MESSAGES_DEBUG", None)
        argv = [IP, "netns", "exec", self.netns.name, program_path("vscclient"), "--soft-card",
                "--keepalive", f"{IDLE},{INTERVAL},{COUNT}", "--reconnect=2",
                self.netns.host_ip, str(self.host.port)]
        with open(self.err_path, "wb") as err:
            self.client = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                           stdout=subprocess.DEVNULL, stderr=err, env=env)
        self.wait_for("the first connection", lambda: "connected to" in self.client_log(), 60)
        # The reader is announced and accepted by the host.
        self.wait_for("the reader at the host", lambda: "host accepted reader" in self.client_log(), 30)
        connects_before = self.client_log().count("connected to")
        time.sleep(1)  # idle: nothing more goes over the wire

        self.netns.set_link(False)
        down_at = time.monotonic()
        noticed_at = self.wait_for(
            "vscclient to notice the dead connection",
            lambda: "ended" in self.client_log(),
            IDLE + INTERVAL * COUNT + 30)
        took = noticed_at - down_at
        print(f"# silent partition noticed after {took:.1f} s "
              f"(keepalive idle {IDLE} + interval {INTERVAL} x count {COUNT} = "
              f"{IDLE + INTERVAL * COUNT} s)", file=sys.stderr)
        # It is keepalive that noticed: not before its first probe could fail.
        self.assertGreaterEqual(took, IDLE)

        time.sleep(2)
        self.netns.set_link(True)
        self.wait_for("the reconnection",
                      lambda: self.client_log().count("connected to") > connects_before, 90)
        self.assertIsNone(self.client.poll(), "vscclient must keep running")
        self.assertTrue(self.host.alive())


if __name__ == "__main__":
    unittest.main()
