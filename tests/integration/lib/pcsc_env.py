# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real PC/SC stack for integration tests: our own pcscd plus vsmartcard cards.

    env = PcscEnv()          # raises unittest.SkipTest with the reason if it cannot run
    env.start()              # pcscd -f, waits until its readers are listed
    env.start_vicc(slot=0)   # vicc -t iso7816 -> card in "Virtual PCD 00 00"
    env.wait_card(0)         # until opensc-tool -l shows the card
    ...
    env.close()              # kills only the processes this object started

Facts this relies on (checked on Debian 12):
- pcscd 1.9.9 run as root with -f stays in the foreground and serves
  /run/pcscd/pcscd.comm; only one pcscd can run on a machine, so a pcscd we did
  not start means the test skips (we never kill it).
- vsmartcard-vpcd's /etc/reader.conf.d/vpcd gives DEVICENAME /dev/null:0x8C7B
  (35963); its ifd handler listens on that port + slot for each slot
  (ifd-vpcd.c: IFDHCreateChannelByName reads the port after the ':', "/dev/null"
  meaning listen; IFDHCreateChannel adds the slot), two slots by default
  (vsmartcard configure.ac, --enable-vpcdslots=2), which pcscd names
  "Virtual PCD 00 00" and "Virtual PCD 00 01".
- 35963 and 35964 lie in Linux's ephemeral port range (32768-60999 by default):
  any outgoing connection on the machine may get one as its local port, and
  vpcd then cannot listen there. So our pcscd runs with its own reader
  configuration (pcscd -c DIR: that directory instead of /etc/reader.conf.d)
  putting vpcd on ports outside the range read from
  /proc/sys/net/ipv4/ip_local_port_range (vpcd_port(); VPCD_BASE_PORT). Whatever
  talks to vpcd takes its port from here (vicc -P, vschost --export-pcsc and
  --vpcd-first-port: lib/export_chain.py).
- A card program connects to that port; vpcd treats a connected program as an
  inserted card and a closed connection as a removed one (ifd-vpcd.c,
  IFDHICCPresence -> vicc_present). vicc exits when vpcd closes its connection
  (pcscd stopped), so restart_pcscd() starts the cards again.
- Debian's vicc needs PYTHONPATH with /usr/lib/python3/site-packages/virtualsmartcard
  and a folder where "Crypto" links to python3-pycryptodome's Cryptodome.

What opensc-tool prints is read in lib/opensc_tool.py. Only the standard library
is used.
"""
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import opensc_tool
import processes

PCSCD = "/usr/sbin/pcscd"
VICC = "/usr/bin/vicc"
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
VICC_PYTHONPATH = "/usr/lib/python3/site-packages/virtualsmartcard"
CRYPTODOME = "/usr/lib/python3/dist-packages/Cryptodome"
PCSCD_SOCKET = "/run/pcscd/pcscd.comm"
# Held while our pcscd runs, so tests from several checkouts take turns.
LOCK_PATH = "/tmp/vscard-pcscd.lock"
DEBIAN_VPCD_PORT = 35963
VPCD_SLOTS = 2
READER_PREFIX = "Virtual PCD 00 0"
# vpcd's first port for our pcscd: the first of these whose slots' ports all lie
# outside the ephemeral range (Debian's own when the range allows it).
VPCD_PORT_CANDIDATES = (DEBIAN_VPCD_PORT, 31963, 21963, 61963)
EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"


def ephemeral_port_range():
    """(low, high) of the ports the kernel hands to outgoing connections."""
    try:
        with open(EPHEMERAL_RANGE) as f:
            low, high = (int(x) for x in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def choose_vpcd_base_port(port_range=None):
    low, high = port_range or ephemeral_port_range()
    for base in VPCD_PORT_CANDIDATES:
        ports = range(base, base + VPCD_SLOTS)
        if ports[-1] <= 0xFFFF and all(p < low or p > high for p in ports):
            return base
    return DEBIAN_VPCD_PORT  # nothing outside the range: the wait in start() may skip


VPCD_BASE_PORT = choose_vpcd_base_port()


def reader_name(slot):
    """pcscd's name for vpcd slot `slot` (0 or 1)."""
    return f"{READER_PREFIX}{slot}"


def vpcd_port(slot):
    """The port our pcscd's vpcd listens on for `slot`."""
    return VPCD_BASE_PORT + slot


def reader_conf():
    """Our pcscd's reader configuration: Debian's vpcd entry (FRIENDLYNAME,
    LIBPATH) on VPCD_BASE_PORT."""
    return (f'FRIENDLYNAME "Virtual PCD"\n'
            f"DEVICENAME   /dev/null:{VPCD_BASE_PORT}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    {VPCD_BASE_PORT}\n")


def listening_ports(pid):
    """The TCP ports process `pid` listens on (ss -tlnpH)."""
    try:
        out = subprocess.run(["ss", "-tlnpH"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    ports = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 6 and f"pid={pid}," in line:
            ports.add(int(fields[3].rsplit(":", 1)[1]))
    return ports


def _proc_is_live_pcscd(pid):
    """True if /proc/PID is a pcscd that is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return False
    # "PID (comm) STATE ..."; comm may hold spaces, so split at the last ')'.
    comm = stat[stat.find("(") + 1:stat.rfind(")")]
    state = stat[stat.rfind(")") + 2:stat.rfind(")") + 3]
    return comm == "pcscd" and state not in ("Z", "X")


def running_pcscd_pids():
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _proc_is_live_pcscd(int(entry)):
            pids.append(int(entry))
    return pids


def _socket_answers(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(1)
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def vicc_env(workdir):
    """The environment Debian's vicc needs to run (no pcscd involved): PYTHONPATH
    with its package folder and a folder under `workdir` where "Crypto" links to
    python3-pycryptodome's Cryptodome. Raises unittest.SkipTest if vicc or
    Cryptodome is not installed."""
    missing = [p for p in (VICC, CRYPTODOME) if not os.path.exists(p)]
    if missing:
        raise unittest.SkipTest("vicc not usable: missing " + ", ".join(missing)
                                + " (packages vsmartcard-vpicc python3-pycryptodome)")
    crypto = os.path.join(workdir, "cryptolink")
    os.makedirs(crypto, exist_ok=True)
    link = os.path.join(crypto, "Crypto")
    if not os.path.islink(link):
        os.symlink(CRYPTODOME, link)
    env = dict(os.environ)
    env["PYTHONPATH"] = VICC_PYTHONPATH + os.pathsep + crypto
    return env


def vicc_argv(port, card_type="iso7816", host="127.0.0.1", reversed_mode=False, extra_args=()):
    """vicc's command line (with /usr/bin/python3, which Debian's vicc needs):
    connecting to host:port, or with `reversed_mode` (-R) waiting on port for
    the reader side to connect."""
    argv = ["/usr/bin/python3", VICC, "-t", card_type, "-v", "-P", str(port)]
    argv += ["-R"] if reversed_mode else ["-H", host]
    return argv + list(extra_args)


def _port_holders(port):
    """The sockets on local TCP `port` and their processes (ss -tanp), so a skip
    names what holds vpcd's port: a listener, or a connection whose local port
    happens to be it (an ephemeral port, or a client connected to itself)."""
    try:
        out = subprocess.run(["ss", "-tanpH", f"sport = :{port}"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"(ss failed: {e})"
    lines = [" ".join(line.split()) for line in out.splitlines() if line.strip()]
    return "; ".join(lines) or "(ss lists no socket on it now)"


class PcscEnv:
    """Our own pcscd and card programs; kills only what it started."""

    def __init__(self, workdir=None):
        missing = [p for p in (PCSCD, VICC, opensc_tool.OPENSC_TOOL, VPCD_DRIVER)
                   if not os.path.exists(p)]
        if not os.path.isdir(CRYPTODOME):
            missing.append(CRYPTODOME + " (python3-pycryptodome)")
        if missing:
            raise unittest.SkipTest("PC/SC stack not installed: missing " + ", ".join(missing)
                                    + " (packages pcscd opensc vsmartcard-vpcd vsmartcard-vpicc"
                                    " python3-pycryptodome)")
        if os.geteuid() != 0:
            raise unittest.SkipTest("pcscd must run as root (it serves /run/pcscd)")
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="vscard-pcsc-")
        self.pcscd = None
        self._pcscd_log = None
        self.cards = {}          # slot -> (Popen, argv, log file)
        self._lock_file = None
        self._pcscd_starts = 0
        self.vicc_env = vicc_env(self.workdir)

    # ---- pcscd ----
    def _lock(self):
        """Serializes the real-PC/SC tests of every checkout on this machine (only
        one pcscd can run): waits up to VSCARD_PCSC_LOCK_TIMEOUT s (300) for the
        lock, then skips."""
        if self._lock_file is not None:
            return
        f = open(LOCK_PATH, "a+")
        deadline = time.monotonic() + float(os.environ.get("VSCARD_PCSC_LOCK_TIMEOUT", "300"))
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_file = f
                return
            except OSError:
                if time.monotonic() > deadline:
                    f.close()
                    raise unittest.SkipTest(f"another test holds {LOCK_PATH} (its pcscd is "
                                            "running); only one pcscd can run on a machine")
                time.sleep(0.2)

    def start(self, timeout=15):
        """Starts pcscd in the foreground and waits until vpcd's readers are listed."""
        if self.pcscd is not None and self.pcscd.poll() is None:
            return
        self._lock()
        foreign = [p for p in running_pcscd_pids()
                   if self.pcscd is None or p != self.pcscd.pid]
        if foreign:
            raise unittest.SkipTest(
                f"a pcscd this test did not start is running (pid {foreign[0]}); "
                "only one pcscd can run on a machine, so the real-PC/SC tests skip "
                "rather than stop it")
        busy = self._wait_vpcd_ports_free()
        if busy:
            raise unittest.SkipTest(f"TCP port {busy} (vpcd's) is in use by a program this "
                                    "test did not start: " + _port_holders(busy))
        self._pcscd_starts += 1
        log_path = os.path.join(self.workdir, f"pcscd.{self._pcscd_starts}.log")
        self._pcscd_log = open(log_path, "wb")
        # Only our reader configuration: -c replaces /etc/reader.conf.d (pcsc-lite
        # pcscdaemon.c hands it to RFStartSerialReaders instead of the default).
        conf_dir = os.path.join(self.workdir, "reader.conf.d")
        os.makedirs(conf_dir, exist_ok=True)
        with open(os.path.join(conf_dir, "vpcd"), "w") as f:
            f.write(reader_conf())
        self.pcscd = subprocess.Popen([PCSCD, "-f", "-c", conf_dir], stdout=self._pcscd_log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pcscd.poll() is not None:
                raise RuntimeError(f"pcscd exited with {self.pcscd.returncode}: "
                                   + self.pcscd_log_text()[-2000:])
            if _socket_answers(PCSCD_SOCKET):
                names = [r[1] for r in self.readers()]
                if all(reader_name(s) in names for s in range(VPCD_SLOTS)):
                    self._check_only_our_ports()
                    return
            time.sleep(0.1)
        raise RuntimeError("pcscd did not list vpcd's readers within "
                           f"{timeout} s: " + self.pcscd_log_text()[-2000:])

    def _check_only_our_ports(self):
        """pcscd listens on our vpcd ports and no others: it did not read
        /etc/reader.conf.d as well (which would put a vpcd on 35963 too)."""
        ports = listening_ports(self.pcscd.pid)
        wanted = {vpcd_port(s) for s in range(VPCD_SLOTS)}
        if ports is not None and ports != wanted:
            raise RuntimeError(f"pcscd listens on {sorted(ports)}, expected only vpcd's "
                               f"{sorted(wanted)} from {self.workdir}/reader.conf.d: "
                               + self.pcscd_log_text()[-2000:])

    @staticmethod
    def _wait_vpcd_ports_free(timeout=30):
        """0 once vpcd's ports can be bound (a pcscd that just ended may still
        hold them for a moment), else the busy port after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            busy = 0
            for slot in range(VPCD_SLOTS):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("0.0.0.0", vpcd_port(slot)))
                except OSError:
                    busy = vpcd_port(slot)
                finally:
                    s.close()
            if not busy or time.monotonic() > deadline:
                return busy
            time.sleep(0.2)

    def pcscd_log_text(self):
        path = os.path.join(self.workdir, f"pcscd.{self._pcscd_starts}.log")
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop_pcscd(self):
        """Stops our pcscd (SIGTERM, then SIGKILL). Card programs connected to vpcd
        see their connection closed."""
        if self.pcscd is None:
            return
        processes.stop(self.pcscd)
        self.pcscd = None
        if self._pcscd_log:
            self._pcscd_log.close()
            self._pcscd_log = None

    def restart_pcscd(self, restart_cards=True):
        """Stops pcscd, starts it again, and (by default) starts again the card
        programs that were running, waiting until their cards are listed."""
        slots = [s for s, c in self.cards.items() if c[0].poll() is None]
        self.stop_pcscd()
        for slot in list(self.cards):
            self.stop_card(slot)
        self.start()
        if restart_cards:
            for slot in slots:
                self.start_vicc(slot)
                self.wait_card(slot)

    # ---- cards ----
    def start_vicc(self, slot=0, card_type="iso7816", extra_args=()):
        """Starts vicc as the card in vpcd slot `slot`."""
        argv = vicc_argv(vpcd_port(slot), card_type, extra_args=extra_args)
        return self.start_card_program(slot, argv, env=self.vicc_env)

    def start_scripted_card(self, slot=0, delay=5.0, atr=None):
        """Starts lib/vpcd_card.py (a stdlib card with a slow INS 5A) in `slot`."""
        argv = ["/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "vpcd_card.py"),
                "--port", str(vpcd_port(slot)), "--delay", str(delay)]
        if atr:
            argv += ["--atr", atr]
        return self.start_card_program(slot, argv)

    def start_card_program(self, slot, argv, env=None):
        """Starts any program that connects to vpcd's port for `slot` as a card."""
        self.stop_card(slot)
        log = open(os.path.join(self.workdir, f"card{slot}.log"), "ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env or os.environ)
        self.cards[slot] = (proc, argv, log)
        return proc

    def stop_card(self, slot):
        card = self.cards.pop(slot, None)
        if card:
            processes.stop(card[0])
            card[2].close()

    def card_log_text(self, slot):
        try:
            with open(os.path.join(self.workdir, f"card{slot}.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # ---- observation through the real PC/SC client side ----
    def readers(self):
        """(index, name, card_present) for every reader pcscd lists, via opensc-tool -l."""
        return opensc_tool.readers()

    def reader_index(self, name):
        for index, n, _ in self.readers():
            if n == name:
                return index
        return None

    def card_present(self, slot_or_name):
        name = reader_name(slot_or_name) if isinstance(slot_or_name, int) else slot_or_name
        return any(n == name and present for _, n, present in self.readers())

    def wait_card(self, slot_or_name, present=True, timeout=20):
        """Waits until opensc-tool -l shows (or no longer shows) a card in the reader."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.card_present(slot_or_name) == present:
                return
            if isinstance(slot_or_name, int) and present:
                card = self.cards.get(slot_or_name)
                if card and card[0].poll() is not None:
                    raise RuntimeError(f"card program for slot {slot_or_name} exited with "
                                       f"{card[0].returncode}: "
                                       + self.card_log_text(slot_or_name)[-2000:])
            time.sleep(0.2)
        raise AssertionError(f"card in {slot_or_name!r} not {'present' if present else 'gone'}"
                             f" within {timeout} s; readers: {self.readers()}")

    def send_apdus(self, reader, apdus, timeout=60):
        """Runs opensc-tool -r INDEX -s APDU... on reader name or slot; returns
        [(response data hex, sw hex)] and the raw output."""
        name = reader_name(reader) if isinstance(reader, int) else reader
        index = self.reader_index(name)
        if index is None:
            raise AssertionError(f"reader {name!r} not listed: {self.readers()}")
        return opensc_tool.send_apdus(index, apdus, timeout)

    def close(self):
        for slot in list(self.cards):
            self.stop_card(slot)
        self.stop_pcscd()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None
        if self._own_workdir and not os.environ.get("VSCARD_KEEP_TMP"):
            shutil.rmtree(self.workdir, ignore_errors=True)
