# SPDX-License-Identifier: LGPL-2.1-or-later
"""OpenSC's opensc-tool as the tests' PC/SC client: running it and reading its output.

    opensc_tool.readers()                     # [(index, name, card_present)] via -l
    opensc_tool.send_apdus(0, ["00A4..."])    # [(data hex, "SW1SW2")], raw output

pcscd itself (starting it, the card programs) is lib/pcsc_env.py's job.
Only the standard library is used.
"""
import re
import subprocess

OPENSC_TOOL = "/usr/bin/opensc-tool"


def readers():
    """(index, name, card_present) for every reader pcscd lists, via opensc-tool -l."""
    r = subprocess.run([OPENSC_TOOL, "-l"], capture_output=True, text=True, timeout=30)
    return parse_readers(r.stdout)


def send_apdus(index, apdus, timeout=60):
    """Runs opensc-tool -r INDEX -s APDU...; returns [(response data hex, sw hex)]
    and the raw output."""
    argv = [OPENSC_TOOL, "-r", str(index)]
    for apdu in apdus:
        argv += ["-s", apdu]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return parse_apdu_output(r.stdout), r.stdout + r.stderr


def parse_readers(text):
    """opensc-tool -l output -> list of (index, name, card_present)."""
    found = []
    for line in text.splitlines():
        m = re.match(r"^(\d+)\s+(Yes|No)\s+(.*\S)\s*$", line)
        if m:
            name = m.group(3)
            # The Features column ("PIN pad") sits between Card and Name.
            name = re.sub(r"^PIN pad\s+", "", name)
            found.append((int(m.group(1)), name, m.group(2) == "Yes"))
    return found


def parse_apdu_output(text):
    """opensc-tool -s output -> [(data hex uppercase, "SW1SW2" hex)] in order."""
    results = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^Received \(SW1=0x([0-9A-Fa-f]{2}), SW2=0x([0-9A-Fa-f]{2})\)(:?)", lines[i])
        i += 1
        if not m:
            continue
        data = ""
        if m.group(3):
            # Hex dump lines: k "XX " groups then k ASCII characters (k <= 16),
            # so a line is 4k characters long; the ASCII column may look like hex.
            while i < len(lines) and _hex_dump_line(lines[i]) is not None:
                data += _hex_dump_line(lines[i])
                i += 1
        results.append((data, (m.group(1) + m.group(2)).upper()))
    return results


def _hex_dump_line(line):
    # OpenSC's util_hex_dump_asc: k "XX " groups then k ASCII characters; a
    # partial line after the first is padded with "   " to 16 groups, so it is
    # 48 + k characters long instead of 4k.
    candidates = [len(line) // 4] if len(line) % 4 == 0 else []
    if len(line) > 48:
        candidates.append(len(line) - 48)
    for k in candidates:
        if not 0 < k <= 16:
            continue
        padded = len(line) != 4 * k
        if not re.fullmatch(r"([0-9A-F]{2} ){%d}" % k, line[:3 * k]):
            continue
        if padded and line[3 * k:48].strip(" "):
            continue
        return line[:3 * k].replace(" ", "")
    return None

