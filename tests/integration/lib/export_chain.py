# SPDX-License-Identifier: LGPL-2.1-or-later
"""The chain card -> vscclient -> vschost -> vpcd -> pcscd -> application, for tests.

    chain = ExportChain(test)                 # skips with the reason if it cannot run
    env = chain.pcsc()                         # our own pcscd (lib/pcsc_env.py)
    host = chain.vschost("--export-pcsc")      # listens on 127.0.0.1:<free port>
    client = chain.vscclient("--soft-card")    # HOST PORT appended
    env.wait_card(0)

Every process is started here, tracked, and killed in the test's cleanup.
Only the standard library is used.
"""
import json
import os
import subprocess
import tempfile

from build_tree import program
import opensc_tool
import pcsc_env
from processes import LoggedProcess

OPENSC_PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
PKCS11_TOOL = "/usr/bin/pkcs11-tool"
# libcacard's CAC ATR (src/cac.c, cac_atr): what vscclient --soft-card sends.
CAC_ATR = "3B7A180000736674652063643134 34".replace(" ", "")


def has_option(path, option):
    r = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return option in r.stdout + r.stderr


class ExportChain:
    def __init__(self, test, need_vscclient=True, need_pcsc_client=False):
        self.test = test
        self.vschost_path = program("vschost")
        self.vscclient_path = program("vscclient")
        if self.vschost_path is None:
            test.skipTest("vschost is not built ($VSCARD_BUILD_DIR/vschost/vschost)")
        if (need_vscclient or need_pcsc_client) and self.vscclient_path is None:
            test.skipTest("vscclient is not built ($VSCARD_BUILD_DIR/vscclient/vscclient)")
        if not has_option(self.vschost_path, "--export-pcsc"):
            test.skipTest("vschost was built without --export-pcsc")
        if need_pcsc_client and not has_option(self.vscclient_path, "--pcsc"):
            test.skipTest("vscclient was built without --pcsc")
        self._tmp = tempfile.TemporaryDirectory(prefix="vscard-export-")
        test.addCleanup(self._tmp.cleanup)
        self.tmp = self._tmp.name
        self.env = None
        self.hosts = []
        self.clients = []
        self._count = 0
        test.addCleanup(self.close)

    def pcsc(self):
        if self.env is None:
            self.env = pcsc_env.PcscEnv(workdir=os.path.join(self.tmp, "pcsc"))
            self.env.start()
        return self.env

    def _log(self, name):
        self._count += 1
        return os.path.join(self.tmp, f"{self._count:02d}-{name}.log")

    def vschost(self, *args, interactive=False):
        """vschost on 127.0.0.1:0 with `args`; .port is where it listens. With
        `interactive`, stdin is a pipe for its console commands. A plain
        --export-pcsc goes to our pcscd's vpcd (pcsc_env.vpcd_port(0), not
        Debian's 35963), and vschost learns vpcd's first port."""
        args = [f"--export-pcsc=127.0.0.1:{pcsc_env.vpcd_port(0)}" if a == "--export-pcsc" else a
                for a in args]
        if any(a.startswith("--export-pcsc") for a in args):
            args.append(f"--vpcd-first-port={pcsc_env.vpcd_port(0)}")
        argv = [self.vschost_path, "--listen", "127.0.0.1:0", "-v", *args]
        argv.insert(1, "--interactive" if interactive else "--no-interactive")
        p = LoggedProcess(argv, self._log("vschost"),
                          stdin=subprocess.PIPE if interactive else subprocess.DEVNULL)
        self.hosts.append(p)
        m = p.wait_output(r"vschost: listening on 127\.0\.0\.1:(\d+)", timeout=15)
        p.port = int(m.group(1))
        return p

    def vscclient(self, port, *args):
        """vscclient ARGS 127.0.0.1 PORT; stdin is a pipe for its commands. Every
        client shares one XDG_CACHE_HOME, so --soft-card builds its NSS database once."""
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(self.tmp, "cache"))
        env.pop("G_MESSAGES_DEBUG", None)
        p = LoggedProcess([self.vscclient_path, *args, "127.0.0.1", str(port)],
                          self._log("vscclient"), env=env, stdin=subprocess.PIPE)
        self.clients.append(p)
        return p

    def logs(self):
        """Every log of this test, for failure messages."""
        text = ""
        for name in sorted(os.listdir(self.tmp)):
            path = os.path.join(self.tmp, name)
            if name.endswith(".log") and os.path.isfile(path):
                with open(path, "rb") as f:
                    text += f"--- {name}\n" + f.read().decode("utf-8", "replace")[-3000:]
        return text

    def close(self):
        for p in self.clients + self.hosts:
            p.stop()
        self.clients, self.hosts = [], []
        if self.env is not None:
            self.env.close()
            self.env = None


def opensc_atr(env, reader):
    """opensc-tool -r INDEX -a for a reader name: the ATR as uppercase hex."""
    index = env.reader_index(reader)
    if index is None:
        raise AssertionError(f"reader {reader!r} not listed: {env.readers()}")
    r = subprocess.run([opensc_tool.OPENSC_TOOL, "-r", str(index), "-a"], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"opensc-tool -a failed: {r.stdout}{r.stderr}")
    return r.stdout.strip().replace(":", "").replace(" ", "").upper()


def pkcs11_tool(*args, timeout=120):
    return subprocess.run([PKCS11_TOOL, "--module", OPENSC_PKCS11, *args], capture_output=True,
                          text=True, timeout=timeout)


def json_events(text):
    """The JSON lines (vschost --report json) in a log, parsed, in order."""
    events = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
    return events
