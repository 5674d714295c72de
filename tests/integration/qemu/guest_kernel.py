# SPDX-License-Identifier: LGPL-2.1-or-later
"""The guest's kernel: the Debian kernel package fetched (apt-get download),
unpacked (dpkg-deb -x, never installed on the host), its bzImage turned into
the ELF vmlinux QEMU boots through the PVH entry point, and the USB modules the
guest needs with their insmod order. Part of build_guest.py's cache."""
import bz2
import hashlib
import json
import lzma
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

from guest_errors import BuildError, run

KERNEL_META = "linux-image-amd64"
# USB host-controller drivers the guest carries, by name; their dependencies are
# added from each module's own .modinfo "depends=" (what depmod writes into
# modules.dep). The guest loads one chain, chosen with vscard.usb= (default
# uhci-hcd, the controller that works; the others are there to reproduce
# docs/qemu.md's controller findings).
GUEST_MODULES = ["uhci-hcd", "ehci-pci", "ohci-pci", "xhci-pci"]


def kernel_package():
    """(package, version) of the kernel linux-image-amd64 currently depends on.
    A machine whose apt lists were cleaned knows no such package: as root, run
    apt-get update once and ask again."""
    out = subprocess.run(["apt-cache", "depends", "--important", KERNEL_META],
                         capture_output=True, text=True).stdout
    if "Depends:" not in out and os.geteuid() == 0:
        run(["apt-get", "update", "-q"])
    out = run(["apt-cache", "depends", "--important", KERNEL_META])
    pkgs = [l.split(":", 1)[1].strip() for l in out.splitlines()
            if l.strip().startswith("Depends:") and "linux-image-" in l]
    if not pkgs:
        raise BuildError(f"apt-cache knows no {KERNEL_META}; run apt-get update")
    pkg = pkgs[0]
    ver = run(["apt-cache", "policy", pkg])
    cand = [l.split(":", 1)[1].strip() for l in ver.splitlines()
            if l.strip().startswith("Candidate:")]
    if not cand or cand[0] == "(none)":
        raise BuildError(f"no candidate version for {pkg}; run apt-get update")
    return pkg, cand[0]


def deb_field(deb, field):
    return run(["dpkg-deb", "-f", deb, field]).strip()


def extract_vmlinux(vmlinuz):
    """The ELF kernel inside a bzImage: find the compressed payload's magic and
    decompress from there (the method of the kernel's scripts/extract-vmlinux),
    keeping the first candidate that decompresses to an ELF image."""
    data = open(vmlinuz, "rb").read()
    candidates = [
        (b"\xfd7zXZ\x00", lambda b: lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(b)),
        (b"\x5d\x00\x00\x00", lambda b: lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(b)),
        (b"\x1f\x8b\x08", lambda b: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(b)),
        (b"BZh", lambda b: bz2.BZ2Decompressor().decompress(b)),
    ]
    for magic, decompress in candidates:
        start = 0
        while (pos := data.find(magic, start)) >= 0:
            start = pos + 1
            try:
                out = decompress(data[pos:])
            except (lzma.LZMAError, zlib.error, OSError, EOFError, ValueError):
                continue
            if out[:4] == b"\x7fELF":
                return out
    raise BuildError(f"{vmlinuz}: no xz/lzma/gzip/bzip2 payload decompresses to an "
                     "ELF kernel (a zstd-compressed kernel needs another extractor)")


def read_module(path):
    """A module's ELF bytes; Debian may ship them as .ko.xz."""
    data = open(path, "rb").read()
    return lzma.decompress(data) if path.endswith(".xz") else data


def modinfo(elf):
    """The key=value strings of a module's .modinfo section (ELF64 LE)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise BuildError("not a 64-bit little-endian ELF module")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    sections = []
    for i in range(shnum):
        name, _, _, _, off, size = struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
        sections.append((name, off, size))
    strtab_off = sections[shstrndx][1]
    for name, off, size in sections:
        end = elf.index(b"\0", strtab_off + name)
        if elf[strtab_off + name:end] == b".modinfo":
            info = {}
            for item in elf[off:off + size].split(b"\0"):
                if b"=" in item:
                    k, v = item.decode(errors="replace").split("=", 1)
                    info.setdefault(k, v)
            return info
    return {}


def resolve_modules(moddir, wanted):
    """[(name, path)] for `wanted` and everything they depend on, each after
    its dependencies: the order insmod must load them in (modprobe's job)."""
    index = {}
    for dirpath, _, files in os.walk(os.path.join(moddir, "kernel")):
        for f in files:
            for ext in (".ko", ".ko.xz"):
                if f.endswith(ext):
                    index[f[:-len(ext)].replace("-", "_")] = os.path.join(dirpath, f)
    ordered, seen = [], set()

    def visit(name, chain):
        key = name.replace("-", "_")
        if key in seen:
            return
        if key in chain:
            raise BuildError(f"module dependency cycle: {' -> '.join(chain + [key])}")
        if key not in index:
            raise BuildError(f"module {name} not in the kernel package (built in?)")
        path = index[key]
        deps = modinfo(read_module(path)).get("depends", "")
        for dep in filter(None, deps.split(",")):
            visit(dep, chain + [key])
        seen.add(key)
        ordered.append((os.path.basename(path).split(".ko")[0], path))

    for name in wanted:
        visit(name, [])
    return ordered


def apt_lists_stamp():
    """Changes whenever apt-get update changes the package lists."""
    lists = "/var/lib/apt/lists"
    try:
        return max([os.stat(lists).st_mtime_ns] + [
            os.stat(os.path.join(lists, f)).st_mtime_ns for f in os.listdir(lists)
            if f.endswith("Packages") or f.endswith("Release")])
    except OSError:
        return 0


def cached_kernel_package(cache):
    """kernel_package(), remembered until the apt lists change: without
    pkgcache.bin (Debian container images drop it) each apt-cache call parses
    every list again, seconds on a busy machine."""
    memo = os.path.join(cache, "apt-kernel.json")
    stamp = apt_lists_stamp()
    try:
        with open(memo) as f:
            saved = json.load(f)
        if stamp and saved["stamp"] == stamp:
            return saved["package"], saved["version"]
    except (OSError, ValueError, KeyError):
        pass
    pkg, ver = kernel_package()
    with open(memo + ".tmp", "w") as f:
        json.dump({"stamp": apt_lists_stamp(), "package": pkg, "version": ver}, f)
    os.replace(memo + ".tmp", memo)
    return pkg, ver


def fetch_kernel(cache, kernel_deb=None):
    """Unpacked kernel directory in the cache: {vmlinux, modules/, version}."""
    if kernel_deb:
        pkg, ver = deb_field(kernel_deb, "Package"), deb_field(kernel_deb, "Version")
    else:
        pkg, ver = cached_kernel_package(cache)
    mods_tag = hashlib.sha256(" ".join(GUEST_MODULES).encode()).hexdigest()[:8]
    kdir = os.path.join(cache, "kernel", f"{pkg}_{ver}_{mods_tag}")
    if os.path.exists(os.path.join(kdir, "done")):
        os.utime(kdir)
        return kdir, pkg, ver
    shutil.rmtree(kdir, ignore_errors=True)
    os.makedirs(kdir)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        if not kernel_deb:
            run(["apt-get", "download", f"{pkg}={ver}"], cwd=tmp)
            debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
            if not debs:
                raise BuildError(f"apt-get download {pkg} produced no .deb")
            kernel_deb = os.path.join(tmp, debs[0])
        root = os.path.join(tmp, "x")
        run(["dpkg-deb", "-x", kernel_deb, root])
        boot = os.path.join(root, "boot")
        vmlinuz = [f for f in os.listdir(boot) if f.startswith("vmlinuz-")]
        if not vmlinuz:
            raise BuildError(f"{kernel_deb} has no /boot/vmlinuz-*")
        kver = vmlinuz[0][len("vmlinuz-"):]
        with open(os.path.join(kdir, "vmlinux"), "wb") as f:
            f.write(extract_vmlinux(os.path.join(boot, vmlinuz[0])))
        mods = os.path.join(root, "lib", "modules", kver)
        if not os.path.isdir(mods):
            mods = os.path.join(root, "usr", "lib", "modules", kver)
        os.makedirs(os.path.join(kdir, "modules"))
        for top in GUEST_MODULES:
            ordered = resolve_modules(mods, [top])
            for name, path in ordered:
                with open(os.path.join(kdir, "modules", name + ".ko"), "wb") as f:
                    f.write(read_module(path))
            # load-NAME: the insmod order for NAME and its dependencies
            with open(os.path.join(kdir, "modules", "load-" + top), "w") as f:
                f.write("".join(name + ".ko\n" for name, _ in ordered))
        with open(os.path.join(kdir, "version"), "w") as f:
            f.write(kver)
    open(os.path.join(kdir, "done"), "w").close()
    return kdir, pkg, ver
