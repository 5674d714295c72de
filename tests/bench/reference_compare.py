# SPDX-License-Identifier: LGPL-2.1-or-later
"""run-bench.sh --reference PATH: our vscclient against another VSCard client
that takes vscclient's command line (libcacard's vscclient, built by hand out
of tree: tests/bench/README.md), in one run, under the same host driver
(apdu_driver), with the same card, every process pinned to one CPU.

Both clients get the same arguments: `-e EMUL_ARGS -c NAME... 127.0.0.1 PORT`
(or a `soft=(...)` in EMUL_ARGS). Cards, built here with NSS's certutil:
- soft:    three self-signed RSA-2048 certificates and keys in an NSS database
           with an empty password (what --soft-card makes);
- softhsm: the same on a SoftHSM2 token registered in the database, emulated
           through NSS (private-key operations go to the PKCS#11 module).

Each repetition runs the loopback floor, then both clients (alternating which
goes first) on one repeated APDU and on the CAC session. Medians of the
repetitions; ratios are ours / theirs. Start-up (spawn -> ATR at the host, and
the client's CPU until then) is measured apart: --spawns start-ups of each
client, in pairs whose order alternates (ours first, then theirs first), so
that a slow spell of the machine hits both; the median, the quartiles and the
median of the pairs' ratios are reported, since one start-up of ~50 ms moves by
a factor of 2 to 3 on a loaded machine. A benchmark: nothing passes or fails,
the goals of issue 19 are printed beside the ratios.
"""
import os
import shutil
import statistics
import subprocess
import tempfile

CAC_SELECT = "00A4040007A0000000790100"
NICKNAMES = ("bench-id", "bench-signature", "bench-encryption")
TOKEN = "bench-token"
TOKEN_PIN = "123456"  # the PIN cac_session.h sends in VERIFY
SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"

# (row, field, unit, scale, goal for ours/theirs or None)
ROWS = [
    ("p50 round trip", "latency_p50_us", "us", 1, 0.8),
    ("client CPU per APDU", "client_oncpu_us_per_item", "us", 1, 0.5),
    ("voluntary switches per APDU", "client_voluntary_switches_per_item", "", 1, None),
    ("voluntary switches, whole life", "client_voluntary_switches_life", "", 1, None),
    ("CAC session p50", "session_p50_us", "ms", 1e-3, 0.9),
    ("spawn -> ATR at the host", "spawn_to_atr_ms", "ms", 1, 1.0),
    ("CPU to the ATR", "client_oncpu_ms_at_atr", "ms", 1, None),
    ("peak RSS (VmHWM)", "client_vmhwm_kib", "MiB", 1 / 1024, 1.0),
    ("threads", "client_threads", "", 1, None),
]


def _run(argv, input_text=None, env=None):
    out = subprocess.run(argv, input=input_text, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {out.stdout.strip()[-400:]}")
    return out.stdout


def _certificates(db, tmp, token=None, env=None):
    noise = os.path.join(tmp, "noise")
    with open(noise, "wb") as f:
        f.write(os.urandom(64))
    for i, name in enumerate(NICKNAMES):
        argv = ["certutil", "-S", "-d", "sql:" + db, "-n", name, "-s",
                f"CN=vscard bench {name}", "-x", "-t", ",,", "-k", "rsa", "-g", "2048",
                "-z", noise, "-m", str(1000 + i)]
        if token:
            pin = os.path.join(tmp, "pin")
            with open(pin, "w") as f:
                f.write(TOKEN_PIN + "\n")
            argv += ["-h", token, "-f", pin]
        _run(argv, env=env)


def make_soft_card(tmp):
    db = os.path.join(tmp, "soft-db")
    os.mkdir(db)
    _run(["certutil", "-N", "-d", "sql:" + db, "--empty-password"])
    _certificates(db, tmp)
    args = ["-e", f'use_hw=no db="sql:{db}"']
    for name in NICKNAMES:
        args += ["-c", name]
    return {"args": args, "env": dict(os.environ)}


def make_softhsm_card(tmp):
    if not os.path.exists(SOFTHSM_LIB) or not shutil.which("softhsm2-util"):
        raise RuntimeError("SoftHSM2 is not installed (package softhsm2)")
    base = os.path.join(tmp, "softhsm")
    db, tokens = os.path.join(base, "db"), os.path.join(base, "tokens")
    os.makedirs(db)
    os.makedirs(tokens)
    conf = os.path.join(base, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = dict(os.environ, SOFTHSM2_CONF=conf)
    _run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--so-pin", "12345678",
          "--pin", TOKEN_PIN], env=env)
    _run(["certutil", "-N", "-d", "sql:" + db, "--empty-password"], env=env)
    _run(["modutil", "-dbdir", "sql:" + db, "-add", "softhsm", "-libfile", SOFTHSM_LIB,
          "-force"], input_text="\n", env=env)
    _certificates(db, base, token=TOKEN, env=env)
    # Without the PublicCerts slot flag NSS asks for the token's PIN before it
    # lists the certificates, and libcacard (no password callback) finds none.
    listing = _run(["modutil", "-dbdir", "sql:" + db, "-list"], env=env)
    slot = None
    lines = listing.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == f"token: {TOKEN}" and i > 0 and "slot ID" in lines[i - 1]:
            slot = lines[i - 1].split("slot ID")[1].strip()
    if slot is None:
        raise RuntimeError("the SoftHSM token's slot is not in modutil -list")
    config = os.path.join(db, "pkcs11.txt")
    with open(config) as f:
        text = f.read()
    text = text.replace("name=softhsm\n",
                        f"name=softhsm\nNSS=slotParams={{{slot}=[slotFlags=PublicCerts]}}\n")
    with open(config, "w") as f:
        f.write(text)
    names = ",".join(f"{TOKEN}:{n}" for n in NICKNAMES)
    args = ["-e", f'use_hw=no db="sql:{db}",soft=({TOKEN},Virtual Reader,CAC,,{names})']
    return {"args": args, "env": env}


def _pinned(cpu):
    return lambda: os.sched_setaffinity(0, {cpu})


def _driver(prog, card, client, extra, log, cpu):
    import json
    argv = [prog("tests", "bench", "apdu_driver")] + extra + ["--client-log", log, "--", client]
    argv += card["args"] + ["127.0.0.1", "{port}"]
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=card["env"], preexec_fn=_pinned(cpu), timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"apdu_driver with {client} failed: {out.stderr.strip()[-400:]} "
                           f"(client log {log})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _floor(prog, request, response, count, cpu):
    import json
    out = subprocess.run([prog("tests", "bench", "echo_floor"), "--request", str(request),
                          "--response", str(response), "--count", str(count)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=_pinned(cpu), timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"echo_floor failed: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _quartiles(values):
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median": q2, "q1": q1, "q3": q3, "min": min(values), "max": max(values)}


def _startups(prog, card, clients, spawns, tmp, name, cpu):
    """Start-up figures of each client over `spawns` alternating pairs."""
    samples = {who: [] for who in clients}
    for i in range(spawns):
        for who in (["ours", "theirs"] if i % 2 == 0 else ["theirs", "ours"]):
            log = os.path.join(tmp, f"{name}-{who}-start.log")
            samples[who].append(_driver(prog, card, clients[who], ["--start-only"], log, cpu))
    out = {"spawns": spawns}
    for field in ("spawn_to_atr_ms", "client_oncpu_ms_at_atr", "client_vmhwm_kib_at_atr"):
        out[field] = {who: _quartiles([s[field] for s in samples[who]]) for who in clients}
        out[field]["paired_ratio"] = _quartiles(
            [a[field] / b[field] for a, b in zip(samples["ours"], samples["theirs"])])
    out["threads"] = {who: max(s["client_threads"] for s in samples[who]) for who in clients}
    return out


def _print_startups(start):
    print(f"    start-up, {start['spawns']} spawns of each (median [quartiles] min-max):")
    for field, label in (("spawn_to_atr_ms", "spawn -> ATR (ms)"),
                         ("client_oncpu_ms_at_atr", "CPU to the ATR (ms)")):
        f = start[field]
        text = "; ".join(f"{who} {f[who]['median']:.1f} [{f[who]['q1']:.1f}-{f[who]['q3']:.1f}] "
                         f"{f[who]['min']:.1f}-{f[who]['max']:.1f}" for who in ("ours", "theirs"))
        pr = f["paired_ratio"]
        print(f"      {label:21} {text}; pairs ours/theirs {pr['median']:.2f} "
              f"[{pr['q1']:.2f}-{pr['q3']:.2f}]")


def _compare_card(name, card, args, tmp, prog, median_of):
    count = 2000 if args.quick else 10000
    sessions = 5 if args.quick else 30
    reps = 1 if args.quick else 3
    clients = {"ours": prog("vscclient", "vscclient"), "theirs": os.path.abspath(args.reference)}
    runs = {who: [] for who in clients}
    floors = []
    for rep in range(reps):
        order = ["ours", "theirs"] if rep % 2 == 0 else ["theirs", "ours"]
        for who in order:
            log = os.path.join(tmp, f"{name}-{who}-{rep}.log")
            apdu = _driver(prog, card, clients[who], ["--apdu", CAC_SELECT, "--count", str(count),
                                                      "--warmup", "200"], log, args.cpu)
            session = _driver(prog, card, clients[who], ["--cac-sessions", str(sessions)],
                              log, args.cpu)
            apdu["session_p50_us"] = session["latency_p50_us"]
            apdu["session_apdus"] = session["apdus_per_session"]
            apdu["client_vmhwm_kib"] = max(apdu["client_vmhwm_kib"], session["client_vmhwm_kib"])
            runs[who].append(apdu)
        floors.append(_floor(prog, apdu["request_bytes"] - 12, apdu["response_bytes"] - 12,
                             count, args.cpu))
    result = {who: median_of(r) for who, r in runs.items()}
    start = _startups(prog, card, clients, 6 if args.quick else args.spawns, tmp, name, args.cpu)
    result["startup"] = start
    for who in clients:
        for field in ("spawn_to_atr_ms", "client_oncpu_ms_at_atr"):
            result[who][field] = start[field][who]["median"]
    result["floor"] = median_of(floors)
    result["ratios"] = {}
    print(f"  {name} card ({result['ours']['session_apdus']} APDUs per CAC session), "
          f"floor p50 {result['floor']['latency_p50_us']:.1f} us:")
    print(f"    {'':32} {'ours':>10} {'theirs':>10} {'ours/theirs':>12}  goal")
    for label, field, unit, scale, goal in ROWS:
        ours, theirs = result["ours"][field], result["theirs"][field]
        ratio = ours / theirs if theirs else float("inf")
        result["ratios"][field] = ratio
        verdict = "" if goal is None else f"<= {goal}  {'met' if ratio <= goal else 'MISSED'}"
        print(f"    {label + (' (' + unit + ')' if unit else ''):32} {ours * scale:10.2f} "
              f"{theirs * scale:10.2f} {ratio:12.2f}  {verdict}")
    _print_startups(start)
    return result


def run(args, tmp, prog, run_json, median_of):
    del run_json  # the drivers here need an environment and CPU pinning
    if not args.reference or not os.access(args.reference, os.X_OK):
        raise RuntimeError("--reference PATH must name an executable VSCard client")
    print(f"vscclient vs {args.reference} (all processes on CPU {args.cpu}, "
          f"load average {os.getloadavg()[0]:.1f}):")
    out = {"reference": os.path.abspath(args.reference), "cpu": args.cpu,
           "loadavg_at_start": os.getloadavg()}
    makers = {"soft": make_soft_card, "softhsm": make_softhsm_card}
    with tempfile.TemporaryDirectory(prefix="cards-", dir=tmp) as cards:
        for name in args.reference_cards.split(","):
            try:
                out[name] = _compare_card(name, makers[name](cards), args, tmp, prog, median_of)
            except Exception as e:  # report, keep the other card's figures
                print(f"  {name}: failed: {e}")
                out[name] = {"error": str(e)}
    out["loadavg_at_end"] = os.getloadavg()
    return out
