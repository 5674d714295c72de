#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Round-trip benchmarks of issue 10, in one run: bridge overhead against the
loopback floor, a realistic CAC session, host scaling, vscclient idle.

    tests/bench/run-bench.sh [--quick] [--out FILE] [--sections bridge,session,scaling,idle]
    tests/bench/run-bench.sh --reference PATH [--cpu N] [--reference-cards soft,softhsm]

Starts every process itself (vscclient, vschost, the bench programs in
$VSCARD_BUILD_DIR/tests/bench, and pcscd + a vpcd card for the --pcsc case when the
machine allows), kills only those, prints a summary and writes every figure
as one JSON file. A benchmark, not a test: nothing here passes or fails.
tests/bench/README.md explains the fields.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "lib"))

# SELECT of the CAC PKI applet 0 (libcacard src/cac.c): answered from memory
# (61 0D: the FCI waits for GET RESPONSE).
CAC_SELECT = "00A4040007A0000000790100"
# SELECT MF with P2=0C (no FCI) on vicc's iso7816 card: 90 00.
VICC_SELECT = "00A4000C023F00"


def build_dir():
    return os.environ.get("VSCARD_BUILD_DIR", os.path.join(ROOT, "build"))


def prog(*parts):
    path = os.path.join(build_dir(), *parts)
    return path if os.path.exists(path) else None


def run_json(argv, timeout=600):
    """Runs a bench program; returns its last stdout line parsed as JSON."""
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{os.path.basename(argv[0])} failed ({out.returncode}): "
                           f"{out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(runs):
    """Field-wise median of a list of flat JSON objects (numbers only)."""
    merged = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            merged[key] = statistics.median(r[key] for r in runs)
    merged["repetitions"] = len(runs)
    return merged


def ratios(result, floor):
    result["ratio_to_floor"] = {
        "p50": result["latency_p50_us"] / floor["latency_p50_us"],
        "p99": result["latency_p99_us"] / floor["latency_p99_us"],
        "p999": result["latency_p999_us"] / floor["latency_p999_us"],
        "rate": result["per_s"] / floor["round_trips_per_s"],
    }


def vscclient_has(option):
    exe = prog("vscclient", "vscclient")
    if not exe:
        return False
    text = subprocess.run([exe, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True).stdout
    return option in text


def bridge_case(name, apdu, client_argv, count, reps, log):
    """Alternates floor and bridge runs; medians of each."""
    floors, bridged = [], []
    for _ in range(reps):
        b = run_json([prog("tests", "bench", "apdu_driver"), "--apdu", apdu, "--count", str(count),
                      "--warmup", str(min(500, max(10, count // 20))), "--client-log", log,
                      "--"] + client_argv)
        f = run_json([prog("tests", "bench", "echo_floor"),
                      "--request", str(b["request_bytes"] - 12),
                      "--response", str(b["response_bytes"] - 12), "--count", str(count)])
        bridged.append(b)
        floors.append(f)
    floor, result = median_of(floors), median_of(bridged)
    ratios(result, floor)
    print(f"  {name}: {result['per_s']:.0f} APDU/s, p50 {result['latency_p50_us']:.1f} us "
          f"(floor {floor['latency_p50_us']:.1f} us, x{result['ratio_to_floor']['p50']:.2f}), "
          f"p99 {result['latency_p99_us']:.1f} us, client CPU "
          f"{result['client_cpu_us_per_item']:.1f} us/APDU, VmHWM {result['client_vmhwm_kib']} KiB")
    return {"floor": floor, "bridge": result}


def section_bridge(args, tmp):
    vsc = prog("vscclient", "vscclient")
    out = {}
    count = 3000 if args.quick else 20000
    reps = 1 if args.quick else 3
    log = os.path.join(tmp, "vscclient-bridge.log")
    print("bridge overhead:")
    # The card's own time and the worker hop alone, measured beside each
    # repetition of the bridge so that all see the same machine load.
    cards, hops = [], []
    for _ in range(reps):
        cards.append(run_json([prog("tests", "bench", "cacard_xfr"), "--apdu", CAC_SELECT,
                               "--count", str(count)]))
        hops.append(run_json([prog("tests", "bench", "worker_hop"), "--count", str(count)]))
    card, hop = median_of(cards), median_of(hops)
    print(f"  libcacard in-process: p50 {card['latency_p50_us']:.2f} us per {CAC_SELECT}")
    print(f"  vscclient WorkerPool hop alone (empty job): p50 {hop['latency_p50_us']:.1f} us")
    soft = bridge_case("soft card", CAC_SELECT, [vsc, "--soft-card", "127.0.0.1", "{port}"],
                       count, reps, log)
    soft["libcacard"] = card
    soft["worker_hop"] = hop
    floor_p50 = soft["floor"]["latency_p50_us"]
    added = soft["bridge"]["latency_p50_us"] - card["latency_p50_us"]
    soft["added_p50_us"] = added
    soft["added_p50_ratio_to_floor"] = added / floor_p50
    print(f"  added by the bridge (p50 minus libcacard): {added:.1f} us = "
          f"x{added / floor_p50:.2f} the floor (target <= 1.5)")
    out["soft_card"] = soft
    out["pcsc"] = section_pcsc(args, tmp)
    return out


def start_pcsc_card(args, env, pcsc_env):
    """The card in vpcd slot 0: vpcd_fast_card (answers 90 00 at once), or vicc
    with --pcsc-card vicc (~45 ms per APDU: Nagle on vpcd's split writes
    against vicc's delayed ACK, README.md)."""
    if args.pcsc_card == "vicc":
        env.start_vicc(0)
    else:
        env.start_card_program(0, [prog("tests", "bench", "vpcd_fast_card"),
                                   "--port", str(pcsc_env.vpcd_port(0))])
    env.wait_card(0)


def section_pcsc(args, tmp):
    """vscclient --pcsc to a card behind pcscd + vpcd, against the same APDU sent
    straight to the same reader with SCardTransmit, APDU by APDU in turn
    (apdu_driver --direct-reader), and the loopback floor: added = bridge p50 -
    direct p50, over the floor's p50 (issue 19's goal: <= 1.2). Driver and
    floor runs alternate; the result holds the medians, every repetition's
    added figure, and parts_us: the host leg with no hop (soft card p50 -
    libcacard), one worker hop (worker_hop), and the rest. Figures and what
    they mean: README.md, "--pcsc: what vscclient adds over SCardTransmit"."""
    if args.no_pcsc:
        return {"skipped": "--no-pcsc"}
    if not vscclient_has("--pcsc"):
        return {"skipped": "this vscclient has no --pcsc option"}
    fast = args.pcsc_card != "vicc"
    count = (500 if args.quick else 3000) if fast else (50 if args.quick else 300)
    reps = 1 if args.quick else (5 if fast else 3)
    import unittest
    try:
        import pcsc_env
        env = pcsc_env.PcscEnv()
    except unittest.SkipTest as e:
        print(f"  pcsc: skipped ({e})")
        return {"skipped": str(e)}
    try:
        env.start()
        start_pcsc_card(args, env, pcsc_env)
        reader = pcsc_env.reader_name(0)
        log = os.path.join(tmp, "vscclient-pcsc.log")
        warmup = str(min(200, max(10, count // 20)))
        bridged, floors, added_each, soft, cards, hops = [], [], [], [], [], []
        for _ in range(reps):
            b = run_json([prog("tests", "bench", "apdu_driver"), "--apdu", VICC_SELECT,
                          "--count", str(count), "--warmup", warmup, "--client-log", log,
                          "--direct-reader", reader, "--",
                          prog("vscclient", "vscclient"), f"--pcsc={reader}", "127.0.0.1",
                          "{port}"])
            f = run_json([prog("tests", "bench", "echo_floor"),
                          "--request", str(b["request_bytes"] - 12),
                          "--response", str(b["response_bytes"] - 12),
                          "--count", "20000"])
            # Where the added time goes, beside it: the host leg through
            # vscclient with no hop (the soft card answers inside the read
            # callback: its p50 minus libcacard's own time), and one thread hop
            # alone (worker_hop).
            soft.append(run_json([prog("tests", "bench", "apdu_driver"), "--apdu", CAC_SELECT,
                                  "--count", str(count), "--warmup", warmup, "--client-log",
                                  log, "--", prog("vscclient", "vscclient"), "--soft-card",
                                  "127.0.0.1", "{port}"]))
            cards.append(run_json([prog("tests", "bench", "cacard_xfr"), "--apdu", CAC_SELECT,
                                   "--count", str(count)]))
            hops.append(run_json([prog("tests", "bench", "worker_hop"), "--count", "20000"]))
            bridged.append(b)
            floors.append(f)
            added_each.append(b["added_p50_us"] / f["latency_p50_us"])
        bridge = median_of(bridged)
        direct = {k[len("direct_"):]: v for k, v in bridge.items() if k.startswith("direct_")}
        result = {"card": args.pcsc_card, "bridge": bridge, "direct": direct,
                  "floor": median_of(floors),
                  "added_p50_ratio_each_repetition": added_each}
        soft_leg = statistics.median(s["latency_p50_us"] - c["latency_p50_us"]
                                     for s, c in zip(soft, cards))
        hop = median_of(hops)["latency_p50_us"]
        result["parts_us"] = {"soft_card_added_p50": soft_leg, "worker_hop_p50": hop,
                              "rest": bridge["added_p50_us"] - soft_leg - hop}
        floor_p50 = result["floor"]["latency_p50_us"]
        # The median over repetitions of each one's (bridge p50 - direct p50).
        added = bridge["added_p50_us"]
        result["added_p50_us"] = added
        result["added_p50_ratio_to_floor"] = added / floor_p50
        print(f"  {args.pcsc_card} card via --pcsc: p50 {result['bridge']['latency_p50_us']:.1f} us, "
              f"SCardTransmit alone {result['direct']['latency_p50_us']:.1f} us: added "
              f"{added:.1f} us = x{added / floor_p50:.2f} the floor ({floor_p50:.1f} us; "
              f"goal <= 1.2; each repetition {', '.join(f'{r:.2f}' for r in added_each)}); "
              f"client CPU {result['bridge']['client_oncpu_us_per_item']:.0f} us/APDU")
        parts = result["parts_us"]
        print(f"  parts: host leg with no hop (soft card p50 - libcacard) "
              f"{parts['soft_card_added_p50']:.1f} us, worker hop alone "
              f"{parts['worker_hop_p50']:.1f} us, rest {parts['rest']:.1f} us")
        return result
    except Exception as e:  # report, do not abort the other sections
        print(f"  pcsc: failed: {e}")
        return {"error": str(e)}
    finally:
        env.close()


def section_pcsc_only(args, tmp):
    print("vscclient --pcsc against SCardTransmit alone:")
    return section_pcsc(args, tmp)


def section_session(args, tmp):
    sessions = 5 if args.quick else 30
    vsc = prog("vscclient", "vscclient")
    print("CAC session (3 certificates, VERIFY, RSA-2048 signature):")
    bridged = run_json([prog("tests", "bench", "apdu_driver"), "--cac-sessions", str(sessions),
                        "--client-log", os.path.join(tmp, "vscclient-session.log"), "--",
                        vsc, "--soft-card", "127.0.0.1", "{port}"])
    card = run_json([prog("tests", "bench", "cacard_xfr"), "--cac-sessions", str(sessions)])
    print(f"  {bridged['apdus_per_session']} APDUs/session, p50 "
          f"{bridged['latency_p50_us'] / 1000:.2f} ms through vscclient, "
          f"{card['latency_p50_us'] / 1000:.2f} ms in libcacard alone")
    return {"bridge": bridged, "libcacard": card}


def section_reference(args, tmp):
    """vscclient against another VSCard client (--reference PATH, e.g. libcacard's
    vscclient) under the same host driver, same card, same CPU: reference_compare.py."""
    import reference_compare
    return reference_compare.run(args, tmp, prog, run_json, median_of)


def section_presentation(args, tmp):
    """vscclient's T0Presenter (docs/t0-presentation.md) on (the default) and
    off (--raw) with the soft card: round trip and client CPU per APDU, and the
    APDUs a CAC session takes (shaping turns responses QEMU's reader would lose
    into 61xx + GET RESPONSE: extra host round trips, no extra card work)."""
    if not vscclient_has("--raw"):
        return {"skipped": "this vscclient has no --raw option"}
    vsc = prog("vscclient", "vscclient")
    count = 3000 if args.quick else 20000
    reps = 1 if args.quick else 3
    sessions = 5 if args.quick else 30
    log = os.path.join(tmp, "vscclient-presentation.log")
    print("presentation layer (soft card, default vs --raw):")
    on_runs, off_runs = [], []
    for _ in range(reps):
        for runs, extra in ((on_runs, []), (off_runs, ["--raw"])):
            runs.append(run_json([prog("tests", "bench", "apdu_driver"), "--apdu", CAC_SELECT,
                                  "--count", str(count), "--warmup", str(min(500, count // 20)),
                                  "--client-log", log, "--", vsc, "--soft-card"] + extra +
                                 ["127.0.0.1", "{port}"]))
    on, off = median_of(on_runs), median_of(off_runs)
    out = {"on": on, "off": off,
           "p50_ratio_on_to_off": on["latency_p50_us"] / off["latency_p50_us"],
           "cpu_ratio_on_to_off": on["client_cpu_us_per_item"] / off["client_cpu_us_per_item"]}
    print(f"  SELECT: p50 {on['latency_p50_us']:.1f} us on, {off['latency_p50_us']:.1f} us off "
          f"(x{out['p50_ratio_on_to_off']:.2f}); client CPU {on['client_cpu_us_per_item']:.1f} "
          f"vs {off['client_cpu_us_per_item']:.1f} us/APDU (x{out['cpu_ratio_on_to_off']:.2f})")
    sessions_out = {}
    for name, extra in (("on", []), ("off", ["--raw"])):
        sessions_out[name] = run_json([prog("tests", "bench", "apdu_driver"), "--cac-sessions",
                                       str(sessions), "--client-log", log, "--", vsc,
                                       "--soft-card"] + extra + ["127.0.0.1", "{port}"])
    extra_apdus = (sessions_out["on"]["apdus_per_session"] -
                   sessions_out["off"]["apdus_per_session"])
    out["cac_session"] = sessions_out
    out["cac_session_extra_round_trips"] = extra_apdus
    print(f"  CAC session: {sessions_out['on']['apdus_per_session']} APDUs on, "
          f"{sessions_out['off']['apdus_per_session']} off ({extra_apdus:+} from shaping); p50 "
          f"{sessions_out['on']['latency_p50_us'] / 1000:.2f} ms on, "
          f"{sessions_out['off']['latency_p50_us'] / 1000:.2f} ms off")
    return out


def section_scaling(args, tmp):
    seconds = 2 if args.quick else 5
    out = []
    print("host scaling (HostServer, one load_client process):")
    for n in ([1, 10, 100] if args.quick else [1, 10, 100, 1000]):
        host = subprocess.Popen([prog("tests", "bench", "host_scale"), "--clients", str(n),
                                 "--seconds", str(seconds)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        load = None
        try:
            port = json.loads(host.stdout.readline())["port"]
            load = subprocess.Popen([prog("tests", "bench", "load_client"), "--port", str(port),
                                     "--clients", str(n)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            stdout, stderr = host.communicate(timeout=120 + seconds)
            result = json.loads(stdout.strip().splitlines()[-1])
            load_out, _ = load.communicate(timeout=30)
            if load_out.strip():
                result["load_client"] = json.loads(load_out.strip().splitlines()[-1])
        finally:
            for p in (load, host):
                if p and p.poll() is None:
                    p.kill()
                    p.wait()
        print(f"  {n:5d} clients: {result['apdus_per_s']:.0f} APDU/s, p99 "
              f"{result['latency_p99_us']:.0f} us, {result['host_kib_per_connection']:.1f} KiB/conn, "
              f"min/max per client {result['min_client_apdus']}/{result['max_client_apdus']}")
        out.append(result)
    return out


def thread_switches(pid):
    """{tid: voluntary+involuntary context switches} of every thread of pid."""
    counts = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                text = f.read()
        except OSError:
            continue
        counts[tid] = sum(int(v) for v in re.findall(r"ctxt_switches:\s+(\d+)", text))
    return counts


def section_idle(args, tmp):
    seconds = 3 if args.quick else 10
    print(f"vscclient idle ({seconds} s, soft card, connected to vschost):")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host_log = open(os.path.join(tmp, "vschost-idle.log"), "w")
    host = subprocess.Popen([prog("vschost", "vschost"), "-l", f"127.0.0.1:{port}",
                             "--no-interactive"], stdout=host_log, stderr=subprocess.STDOUT)
    log_path = os.path.join(tmp, "vscclient-idle.log")
    client = None
    try:
        time.sleep(0.5)
        with open(log_path, "w") as log:
            client = subprocess.Popen([prog("vscclient", "vscclient"), "--soft-card", "127.0.0.1",
                                       str(port)], stdin=subprocess.PIPE, stdout=log,
                                      stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            with open(log_path) as f:
                if "host accepted reader" in f.read():
                    break
            time.sleep(0.2)
        time.sleep(2)  # let start-up work (NSS, libcacard threads) settle
        before = thread_switches(client.pid)
        time.sleep(seconds)
        after = thread_switches(client.pid)
        woke = {tid: after[tid] - before.get(tid, 0) for tid in after
                if after[tid] - before.get(tid, 0) > 0}
        result = {"seconds": seconds, "threads": len(after),
                  "context_switches": sum(woke.values()), "threads_that_woke": woke}
        strace = shutil.which("strace")
        if strace:
            trace = subprocess.run(["timeout", "-s", "INT", str(seconds), strace, "-f", "-c", "-p",
                                    str(client.pid)], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
            calls = re.search(r"^\s*100\.00\s+\S+\s+\S+\s+(\d+)", trace.stdout, re.M)
            result["strace_syscalls"] = int(calls.group(1)) if calls else 0
            result["strace_summary"] = trace.stdout.strip().splitlines()[-12:]
        print(f"  context switches: {result['context_switches']} "
              f"({len(woke)} of {len(after)} threads woke); "
              f"syscalls seen by strace: {result.get('strace_syscalls', 'n/a')}")
        return result
    finally:
        for p in (client, host):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        host_log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--out", help="JSON results file (default: BUILD/bench-results-TIME.json)")
    parser.add_argument("--sections", default="bridge,session,presentation,scaling,idle")
    parser.add_argument("--no-pcsc", action="store_true", help="skip the vscclient --pcsc case")
    parser.add_argument("--pcsc-card", choices=("fast", "vicc"), default="fast",
                        help="the card of the --pcsc case: vpcd_fast_card (default) or vicc")
    parser.add_argument("--reference", metavar="PATH",
                        help="another VSCard client taking vscclient's command line (-e, -c, "
                             "HOST PORT): compare it with ours; alone, runs only that section")
    parser.add_argument("--reference-cards", default="soft,softhsm",
                        help="cards for --reference: soft (NSS database), softhsm (keys on "
                             "a SoftHSM2 token through NSS)")
    parser.add_argument("--cpu", type=int, default=1,
                        help="CPU that --reference pins every process to (default 1)")
    parser.add_argument("--spawns", type=int, default=30,
                        help="--reference: start-ups of each client per card, alternating "
                             "(default 30; --quick: 6)")
    args = parser.parse_args()
    if args.reference and "--sections" not in sys.argv:
        args.sections = "reference"

    needed = [("tests", "bench", p) for p in ("echo_floor", "apdu_driver", "cacard_xfr",
                                               "worker_hop", "host_scale", "load_client", "pcsc_direct",
                                               "vpcd_fast_card")]
    needed += [("vscclient", "vscclient"), ("vschost", "vschost")]
    missing = [os.path.join(*p) for p in needed if not prog(*p)]
    if missing:
        sys.exit(f"run-bench: not built in {build_dir()}: {', '.join(missing)}; "
                 "run `ninja -C build` first (or set VSCARD_BUILD_DIR)")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path = args.out or os.path.join(build_dir(), f"bench-results-{stamp}.json")
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    results = {"meta": {"time": stamp, "commit": commit.strip(), "host": platform.node(),
                        "cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg(),
                        "quick": args.quick}}
    sections = {"bridge": section_bridge, "session": section_session,
                "presentation": section_presentation,
                "scaling": section_scaling, "idle": section_idle,
                "reference": section_reference, "pcsc": section_pcsc_only}
    with tempfile.TemporaryDirectory(prefix="vscard-bench-") as tmp:
        for name in args.sections.split(","):
            try:
                results[name] = sections[name](args, tmp)
            except Exception as e:  # one broken section must not lose the others
                print(f"{name}: failed: {e}")
                results[name] = {"error": str(e)}
    results["meta"]["loadavg_at_end"] = os.getloadavg()
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)
    print(f"results: {out_path}")


if __name__ == "__main__":
    main()
