# SPDX-License-Identifier: LGPL-2.1-or-later
"""vschost's command line behaves like a mature Unix tool (issue 16).

--version; --timeout takes the durations scripts take (2s, 300ms); several
--report destinations at once (one stdout format, any number of JUnit files);
a JUnit path that cannot be written ends the run before any client is served,
with the OS's reason; with -vv every log line goes to stderr, so stdout under
--report json is JSON lines only; log lines in vscclient's format ("vschost:
warning: ...").
"""
import json
import os
import pathlib
import socket
import subprocess
import tempfile
import time
import unittest
from build_tree import program_path
from ports import free_port

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = SOURCE_ROOT / "docs" / "examples" / "piv-style.vsc"


class VschostCliTest(unittest.TestCase):
    def setUp(self):
        self.vschost = pathlib.Path(program_path("vschost"))
        self.vscclient = pathlib.Path(program_path("vscclient"))
        if not self.vschost.is_file():
            self.skipTest("vschost is not built")
        self.tmp = tempfile.TemporaryDirectory(prefix="vscard-vschost-cli-")
        self.addCleanup(self.tmp.cleanup)

    def run_host(self, *args, timeout=30):
        return subprocess.run([str(self.vschost), "--no-interactive", *args], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def test_version(self):
        r = self.run_host("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^vschost \d+\.\d+\.\d+\n$")

    def test_glib_text_in_a_utf8_locale(self):
        # Without setlocale(), GLib wrote its quotes as "?" whatever the locale
        # (and "[OPTION?]" in the --help GOption printed before vschost had its own).
        r = subprocess.run([str(self.vschost), "--max-readers", "x"], capture_output=True,
                           timeout=30, env=dict(os.environ, LC_ALL="C.UTF-8"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("\u201cx\u201d", r.stderr.decode("utf-8"))

    def test_timeout_takes_script_durations(self):
        started = time.monotonic()
        r = self.run_host("--listen", f"127.0.0.1:{free_port()}", "--timeout", "300ms")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(time.monotonic() - started, 10)
        self.assertIn("--timeout reached", r.stderr)
        bad = self.run_host("--timeout", "2x")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("'2x'", bad.stderr)

    def test_two_stdout_formats_refused(self):
        r = self.run_host("--report", "tap", "--report", "json", "--script", str(SCRIPT))
        self.assertEqual(r.returncode, 2)
        self.assertIn("both write to stdout", r.stderr)

    def test_unwritable_junit_path_fails_before_serving(self):
        path = os.path.join(self.tmp.name, "missing-dir", "out.xml")
        r = self.run_host("--listen", f"127.0.0.1:{free_port()}", "--script", str(SCRIPT),
                          "--report", f"junit:{path}", "--timeout", "60")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"{path}: No such file or directory", r.stderr)
        self.assertNotIn("listening", r.stderr)

    def test_debug_log_stays_off_json_stdout(self):
        # A peer's protocol violation is logged at debug level (and reported
        # as a JSON event): with -vv the log line goes to stderr only.
        port = free_port()
        host = subprocess.Popen(
            [str(self.vschost), "--no-interactive", "-vv", "--listen", f"127.0.0.1:{port}",
             "--mode", "multi", "--report", "json", "--timeout", "3s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                peer = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except ConnectionRefusedError:
                self.assertLess(time.monotonic(), deadline, "vschost does not listen")
                time.sleep(0.05)
        # Init, then an APDU response although vschost asked nothing.
        peer.sendall(bytes.fromhex("00000001 FFFFFFFF 0000000C 56534344 00000002 00000000"
                                   "00000007 00000000 00000002 9000"))
        time.sleep(0.5)
        peer.close()
        out, err = host.communicate(timeout=30)
        events = [json.loads(line) for line in out.splitlines()]   # raises on a log line
        self.assertIn("protocol_violation", [e["event"] for e in events], out)
        self.assertRegex(err, r"(?m)^vschost: debug: client 1 ", err)

    def test_log_lines_in_one_format(self):
        # vscclient's format (vschost(1), DIAGNOSTICS): "vschost: ", then
        # "warning: " or "debug: " (and another domain's name), one line per
        # entry; not GLib's default ("vschost-Message: TIME: ...", "(vschost:PID):
        # vschost-WARNING **: ..." after a blank line).
        port = free_port()
        host = subprocess.Popen(
            [str(self.vschost), "--no-interactive", "-v", "--listen", f"127.0.0.1:{port}",
             "--mode", "qemu", "--timeout", "3s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        peer = self.connect(port)
        # Init, ReaderAdd "test", then an ATR offering T=1 only (TD1 81, TD2 01,
        # TCK 00), which QEMU's usb-ccid cannot use: a warning.
        peer.sendall(bytes.fromhex("00000001 FFFFFFFF 0000000C 56534344 00000002 00000000"
                                   "00000003 FFFFFFFF 00000004 74657374"
                                   "00000005 00000000 00000005 3B80810100"))
        time.sleep(0.5)
        client = "127.0.0.1:%d" % peer.getsockname()[1]
        peer.close()
        out, err = host.communicate(timeout=30)
        self.assertEqual(out, "")
        lines = err.split("\n")
        self.assertEqual(lines[-1], "", err)   # ends with a newline, nothing after it
        for line in lines[:-1]:
            self.assertTrue(line.startswith("vschost: "), f"line not in the format: {line!r}")
        self.assertIn(f"vschost: client 1 connected from {client}", lines)
        self.assertIn("vschost: warning: client 1 reader 0: QEMU would mishandle this "
                      "(atr_without_t0): ATR 3B80810100 offers T=1 but not T=0: QEMU's usb-ccid "
                      "announces only T=0, so the guest lists the card but cannot connect to "
                      "it. Present an ATR that offers T=0", lines)
        # -v: libvscard's debug lines too, its domain named.
        self.assertIn(f"vschost: debug: vscard: connection to {client} closed: read failed: "
                      "connection closed by the peer", lines)
        self.assertIn("vschost: --timeout reached after 3 s; stopping", lines)
        self.assertNotIn(f"({self.vschost.name}:", err)
        self.assertNotIn("Message:", err)
        self.assertNotIn("**", err)

    def test_no_debug_lines_without_v(self):
        port = free_port()
        host = subprocess.Popen(
            [str(self.vschost), "--no-interactive", "--listen", f"127.0.0.1:{port}",
             "--mode", "multi", "--timeout", "2s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        peer = self.connect(port)
        peer.sendall(bytes.fromhex("00000001 FFFFFFFF 0000000C 56534344 00000002 00000000"
                                   "00000007 00000000 00000002 9000"))
        time.sleep(0.5)
        peer.close()
        out, err = host.communicate(timeout=30)
        self.assertIn("vschost: client 1 connected from ", err)
        self.assertNotIn("debug:", err)

    def test_console_partial_line_does_not_stall_the_host(self):
        # The console reads stdin without blocking (program_common/stdin_lines):
        # half a command typed does not stop vschost from serving a client, and
        # lines after `quit` are not run.
        port = free_port()
        host = subprocess.Popen(
            [str(self.vschost), "--interactive", "--listen", f"127.0.0.1:{port}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            host.stdin.write("li")
            host.stdin.flush()
            peer = self.connect(port)
            peer.sendall(bytes.fromhex("00000001 FFFFFFFF 0000000C 56534344 00000002 00000000"))
            time.sleep(1)   # served while "li" waits for the rest of its line
            out, err = host.communicate("st\nquit\nbogus\n", timeout=30)
            peer.close()
        finally:
            if host.poll() is None:
                host.kill()
                host.wait()
        self.assertEqual(host.returncode, 0, err)
        self.assertIn("vschost: client 1 connected from ", err)
        self.assertNotIn("no clients", out)
        self.assertIn("client 1", out)
        self.assertNotIn("bogus", out)

    def connect(self, port):
        deadline = time.monotonic() + 20
        while True:
            try:
                return socket.create_connection(("127.0.0.1", port), timeout=5)
            except ConnectionRefusedError:
                self.assertLess(time.monotonic(), deadline, "vschost does not listen")
                time.sleep(0.05)

    def test_json_and_two_junit_reports_with_debug_logging(self):
        if not self.vscclient.is_file():
            self.skipTest("vscclient is not built")
        port = free_port()
        junit = [os.path.join(self.tmp.name, f"report{i}.xml") for i in (1, 2)]
        host = subprocess.Popen(
            [str(self.vschost), "--no-interactive", "-vv", "--listen", f"127.0.0.1:{port}",
             "--once", "--timeout", "120", "--script", str(SCRIPT), "--report", "json",
             "--report", f"junit:{junit[0]}", "--report", f"junit:{junit[1]}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(self.tmp.name, "cache"))
        client = subprocess.run([str(self.vscclient), "--soft-card", "--once", "127.0.0.1",
                                 str(port)], env=env, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=150)
        out, err = host.communicate(timeout=150)
        self.assertEqual(host.returncode, 0, err)
        self.assertEqual(client.returncode, 0, client.stderr)
        lines = out.splitlines()
        self.assertTrue(lines)
        for line in lines:
            json.loads(line)   # raises on a log line mixed into the JSON
        for path in junit:
            text = pathlib.Path(path).read_text()
            self.assertIn("<testsuite ", text)
            self.assertIn('failures="0"', text)


if __name__ == "__main__":
    unittest.main()
