#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Soak: vscclient --soft-card against vschost for many APDUs, with a host
restart every --restart-every APDUs and a card removal (and insertion) every
--remove-every, measuring what must stay flat (issue 18). A benchmark, not a
test: it reports figures and fails nothing.

    tests/bench/soak.py [--build-dir build] [--apdus 1000000] [--restart-every 10000]
                        [--remove-every 1000] [--json FILE]

One vscclient runs throughout. Each phase is one `vschost --once` whose script
is, per card cycle, `wait-card`, --remove-every SELECTs and `wait-removal`; the
driver answers the end of each cycle with `remove` then `insert` on
vscclient's console. vschost exits after its last cycle and vscclient
reconnects to the next one. At the start and end of every phase it records
vscclient's RSS (VmRSS), open descriptors (/proc/PID/fd) and threads, and
vschost's at the end of its phase (just before its last removal).
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

SELECT = "00A4040007A0000000790100"  # the CAC PKI applet; the soft card answers 61xx


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample(pid):
    """(RSS KiB, open descriptors, threads) of a live process."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd")), threads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=os.environ.get("VSCARD_BUILD_DIR", "build"))
    parser.add_argument("--apdus", type=int, default=1_000_000)
    parser.add_argument("--restart-every", type=int, default=10_000)
    parser.add_argument("--remove-every", type=int, default=1_000)
    parser.add_argument("--json", help="also write every sample here")
    args = parser.parse_args()
    phases = args.apdus // args.restart_every
    cycles = args.restart_every // args.remove_every
    vschost = os.path.join(args.build_dir, "vschost", "vschost")
    vscclient = os.path.join(args.build_dir, "vscclient", "vscclient")
    port = free_port()
    tmp = tempfile.TemporaryDirectory(prefix="vscard-soak-")
    script = os.path.join(tmp.name, "phase.vsc")
    with open(script, "w") as f:
        for _ in range(cycles):
            f.write("wait-card timeout=60s\n")
            f.write(f"send {SELECT} expect 61XX\n" * args.remove_every)
            f.write("wait-removal timeout=60s\n")
    client_log = open(os.path.join(tmp.name, "vscclient.log"), "wb")
    client = subprocess.Popen([vscclient, "--soft-card", "127.0.0.1", str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=client_log, text=True)

    def console(command):
        client.stdin.write(command + "\n")
        client.stdin.flush()

    rows, failures, answered, start = [], 0, 0, time.monotonic()
    load_start = os.getloadavg()
    try:
        for phase in range(phases):
            client_start = sample(client.pid)
            host = subprocess.Popen([vschost, "--no-interactive", "--listen", f"127.0.0.1:{port}",
                                     "--once", "--script", script, "--report", "tap"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
            sends = cycles_done = 0
            host_end = None
            for line in host.stdout:
                if not (line.startswith("ok ") or line.startswith("not ok ")):
                    continue
                if line.startswith("not ok "):
                    failures += 1
                if ": send " in line:
                    sends += 1
                    if sends % args.remove_every == 0:
                        if cycles_done == cycles - 1:
                            host_end = sample(host.pid)
                        console("remove")
                elif ": wait-removal" in line:
                    cycles_done += 1
                    console("insert")
            host.wait(60)
            client_end = sample(client.pid)
            answered += sends  # counted from vschost's TAP lines, not assumed
            row = {"phase": phase + 1, "apdus": answered,
                   "seconds": round(time.monotonic() - start, 1),
                   "vscclient_start": client_start, "vscclient_end": client_end,
                   "vschost_end": host_end}
            rows.append(row)
            print(f"phase {phase + 1:4d} {row['apdus']:8d} APDUs {row['seconds']:8.1f} s  "
                  f"vscclient RSS/fds/threads {client_start} -> {client_end}  "
                  f"vschost {host_end}  failures {failures}", flush=True)
    finally:
        client.stdin.close()
        client.terminate()
        client.wait(30)
        client_log.close()
    first, last = rows[0], rows[-1]
    load_end = os.getloadavg()
    print(f"\n{len(rows)} phases, {last['apdus']} APDUs answered, {failures} failed steps, "
          f"{last['seconds']} s; load average {load_start[0]:.1f} at the start, "
          f"{load_end[0]:.1f} at the end")
    for name, index in (("RSS KiB", 0), ("open fds", 1), ("threads", 2)):
        print(f"vscclient {name:9s} start {first['vscclient_start'][index]:8d}  "
              f"after phase 1 {first['vscclient_end'][index]:8d}  "
              f"end {last['vscclient_end'][index]:8d}")
        print(f"vschost   {name:9s} phase 1 end {first['vschost_end'][index]:8d}  "
              f"last phase end {last['vschost_end'][index]:8d}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "failures": failures, "apdus": answered,
                       "load_start": load_start, "load_end": load_end}, f, indent=1)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
