#!/usr/bin/python3
"""Builds the small Linux guest the QEMU end-to-end tests boot, and caches it.

The guest is two files: an uncompressed kernel (vmlinux, booted through its PVH
entry point, which QEMU's -kernel loader finds in the ELF notes) and an
uncompressed newc initramfs. Both are made only from Debian 12 packages:

- the kernel and its USB modules come from `linux-image-amd64`, fetched with
  `apt-get download` and unpacked with `dpkg-deb -x` into the cache (never
  installed on the host; linux-image-cloud-amd64 is built without USB);
- user space (busybox-static, pcscd, libccid, OpenSC and the libraries they
  link) is copied from the host's installed Debian packages, which
  tests/ci-packages.txt lists.

Uncompressed kernel and cpio: under TCG (no KVM here) decompressing a bzImage
and a cpio.gz inside the guest costs seconds per boot; QEMU maps an ELF vmlinux
directly.

The cache directory is $VSCARD_GUEST_CACHE, else $XDG_CACHE_HOME/vscard-guest,
else ~/.cache/vscard-guest. A guest is keyed by the kernel package version, the
version of every host package a copied file belongs to, and the contents of this
script and the guest's init.sh, so a package upgrade or an edit rebuilds it and
an unchanged setup reuses it. The output is reproducible: files are sorted and
every cpio entry has mtime 0 and uid/gid 0.

Usage: build_guest.py [--cache DIR] [--kernel-deb FILE] [--force]
Prints the kernel and initrd paths. Library use: build() -> Guest.
"""
import argparse
import dataclasses
import fcntl
import hashlib
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
INIT_SCRIPT = os.path.join(HERE, "init.sh")
KERNEL_META = "linux-image-amd64"
# USB host-controller drivers the guest carries, by name; their dependencies are
# added from each module's own .modinfo "depends=" (what depmod writes into
# modules.dep). The guest loads one chain, chosen with vscard.usb= (default
# uhci-hcd, the controller that works; the others are there to reproduce
# docs/qemu.md's controller findings).
GUEST_MODULES = ["uhci-hcd", "ehci-pci", "ohci-pci", "xhci-pci"]
# Programs and dlopen()ed objects the guest needs. The libraries they link are
# found with ldd. libopensc dlopen()s libpcsclite.so.1 (opensc.conf's
# provider_library default), pcscd dlopen()s the CCID driver, and glibc
# dlopen()s libgcc_s.so.1 when a thread calls pthread_exit (pcscd's reader and
# client threads do; without it pcscd aborts).
MULTIARCH = "/usr/lib/x86_64-linux-gnu"
GUEST_FILES = [
    "/usr/bin/busybox",
    "/usr/sbin/pcscd",
    "/usr/bin/opensc-tool",
    "/usr/bin/pkcs11-tool",
    MULTIARCH + "/opensc-pkcs11.so",
    MULTIARCH + "/libpcsclite.so.1",
    MULTIARCH + "/libgcc_s.so.1",
    "/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents/Linux/libccid.so",
    "/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents/Info.plist",
    "/etc/opensc/opensc.conf",
]
# Debian 12 is /usr-merged: the guest gets the same top-level symlinks so the
# paths ldd prints (/lib/x86_64-linux-gnu/..., /lib64/ld-linux-...) resolve.
USRMERGE_LINKS = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib",
                  "lib64": "usr/lib64"}


class BuildError(Exception):
    """The guest can't be built here; the message says what is missing."""


@dataclasses.dataclass
class Guest:
    kernel: str        # uncompressed vmlinux (ELF with a PVH note)
    initrd: str        # uncompressed newc cpio
    kernel_version: str
    key: str


def default_cache_dir():
    if os.environ.get("VSCARD_GUEST_CACHE"):
        return os.environ["VSCARD_GUEST_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "vscard-guest")


def _run(argv, **kw):
    try:
        return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout
    except FileNotFoundError as e:
        raise BuildError(f"{argv[0]} not found: {e}") from e
    except subprocess.CalledProcessError as e:
        raise BuildError(f"{' '.join(argv)} failed: {e.stderr.strip()}") from e


# ---------------------------------------------------------------- kernel

def kernel_package():
    """(package, version) of the kernel linux-image-amd64 currently depends on.
    A machine whose apt lists were cleaned knows no such package: as root, run
    apt-get update once and ask again."""
    out = subprocess.run(["apt-cache", "depends", "--important", KERNEL_META],
                         capture_output=True, text=True).stdout
    if "Depends:" not in out and os.geteuid() == 0:
        _run(["apt-get", "update", "-q"])
    out = _run(["apt-cache", "depends", "--important", KERNEL_META])
    pkgs = [l.split(":", 1)[1].strip() for l in out.splitlines()
            if l.strip().startswith("Depends:") and "linux-image-" in l]
    if not pkgs:
        raise BuildError(f"apt-cache knows no {KERNEL_META}; run apt-get update")
    pkg = pkgs[0]
    ver = _run(["apt-cache", "policy", pkg])
    cand = [l.split(":", 1)[1].strip() for l in ver.splitlines()
            if l.strip().startswith("Candidate:")]
    if not cand or cand[0] == "(none)":
        raise BuildError(f"no candidate version for {pkg}; run apt-get update")
    return pkg, cand[0]


def deb_field(deb, field):
    return _run(["dpkg-deb", "-f", deb, field]).strip()


def extract_vmlinux(vmlinuz):
    """The ELF kernel inside a bzImage: find the compressed payload's magic and
    decompress from there (the method of the kernel's scripts/extract-vmlinux),
    keeping the first candidate that decompresses to an ELF image."""
    data = open(vmlinuz, "rb").read()
    import gzip
    import bz2
    import zlib
    candidates = [
        (b"\xfd7zXZ\x00", lambda b: lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(b)),
        (b"\x5d\x00\x00\x00", lambda b: lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(b)),
        (b"\x1f\x8b\x08", lambda b: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(b)),
        (b"BZh", lambda b: bz2.BZ2Decompressor().decompress(b)),
    ]
    del gzip
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
            _run(["apt-get", "download", f"{pkg}={ver}"], cwd=tmp)
            debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
            if not debs:
                raise BuildError(f"apt-get download {pkg} produced no .deb")
            kernel_deb = os.path.join(tmp, debs[0])
        root = os.path.join(tmp, "x")
        _run(["dpkg-deb", "-x", kernel_deb, root])
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


# ---------------------------------------------------------------- user space

def linked_libraries(path):
    """Absolute paths of the shared libraries `path` loads (ldd), the dynamic
    loader included. A static binary has none."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts:
            i = parts.index("=>")
            if i + 1 < len(parts) and parts[i + 1].startswith("/"):
                libs.append(parts[i + 1])
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    return libs


def guest_file_list():
    """Every host path the initramfs needs, sorted."""
    missing = [p for p in GUEST_FILES if not os.path.exists(p)]
    if missing:
        raise BuildError("missing on the host (install tests/ci-packages.txt): "
                         + ", ".join(missing))
    files = set(GUEST_FILES)
    for p in GUEST_FILES:
        if p.endswith(".so") or ".so." in p or os.access(p, os.X_OK):
            files.update(linked_libraries(p))
    return sorted(files)


def owning_packages(paths):
    """{package: version} of the installed packages that own `paths`."""
    real = sorted({os.path.realpath(p) for p in paths} | set(paths))
    out = subprocess.run(["dpkg-query", "-S"] + real, capture_output=True, text=True).stdout
    pkgs = set()
    for line in out.splitlines():
        if ": " in line and not line.startswith("diversion"):
            for p in line.split(": ", 1)[0].split(", "):
                pkgs.add(p.strip())
    if not pkgs:
        raise BuildError("dpkg-query -S found no package owning the guest's files")
    out = _run(["dpkg-query", "-W", "-f", "${Package}:${Architecture} ${Version}\n"]
               + sorted(pkgs))
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


class Cpio:
    """An uncompressed newc archive, written deterministically (mtime 0, root
    owner), as the kernel's initramfs unpacker reads it."""

    def __init__(self):
        self.entries = {}  # path -> (mode, data)

    def add_dir(self, path):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self.entries.setdefault("/".join(parts[:i]), (0o040755, b""))

    def add_file(self, path, data, mode=0o100644):
        self.add_dir(os.path.dirname(path.strip("/")))
        self.entries[path.strip("/")] = (mode, data)

    def add_symlink(self, path, target):
        self.add_dir(os.path.dirname(path.strip("/")))
        self.entries[path.strip("/")] = (0o120777, target.encode())

    def write(self, out):
        def entry(ino, name, mode, data):
            name_b = name.encode() + b"\0"
            hdr = b"070701" + b"".join(b"%08X" % v for v in (
                ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
            blob = hdr + name_b
            blob += b"\0" * (-len(blob) % 4) + data
            return blob + b"\0" * (-len(blob) % 4)

        with open(out, "wb") as f:
            for ino, name in enumerate(sorted(self.entries), start=1):
                f.write(entry(ino, name, *self.entries[name]))
            f.write(entry(0, "TRAILER!!!", 0, b""))


def add_host_path(cpio, path):
    """Copy `path` into the archive at the place it resolves to under Debian's
    /usr-merged layout, and keep the symlink chain that leads there."""
    seen = 0
    while True:
        seen += 1
        if seen > 20:
            raise BuildError(f"symlink loop at {path}")
        head, tail = os.path.split(path)
        guest_dir = os.path.realpath(head)  # /lib/x86_64-linux-gnu -> /usr/lib/...
        guest_path = os.path.join(guest_dir, tail)
        if os.path.islink(guest_path):
            target = os.readlink(guest_path)
            # Links into /etc (Info.plist -> /etc/libccid_Info.plist) are copied
            # as files so the driver bundle is self-contained.
            if target.startswith("/"):
                data = open(guest_path, "rb").read()
                mode = os.stat(guest_path).st_mode
                cpio.add_file(guest_path, data, 0o100000 | (mode & 0o777))
                return
            cpio.add_symlink(guest_path, target)
            path = os.path.join(guest_dir, target)
            continue
        st = os.stat(guest_path)
        cpio.add_file(guest_path, open(guest_path, "rb").read(), 0o100000 | (st.st_mode & 0o777))
        return


def build_initramfs(out, kdir, kver, files):
    cpio = Cpio()
    for d in ("dev", "proc", "sys", "run/pcscd", "tmp", "root", "etc", "usr/bin",
              "usr/sbin", "usr/lib64", "var/run"):
        cpio.add_dir(d)
    for link, target in USRMERGE_LINKS.items():
        cpio.add_symlink(link, target)
    for path in files:
        add_host_path(cpio, path)
    cpio.add_file("init", open(INIT_SCRIPT, "rb").read(), 0o100755)
    moddir = os.path.join(kdir, "modules")
    for name in sorted(os.listdir(moddir)):
        cpio.add_file(f"modules/{name}", open(os.path.join(moddir, name), "rb").read())
    cpio.add_file("etc/guest-release", f"kernel {kver}\n".encode())
    cpio.write(out)


# ---------------------------------------------------------------- entry

def build(cache=None, kernel_deb=None, force=False, log=lambda msg: None):
    """Build (or reuse) the guest; returns Guest. Raises BuildError."""
    cache = cache or default_cache_dir()
    os.makedirs(cache, exist_ok=True)
    # One builder at a time per cache (parallel test runs share it).
    with open(os.path.join(cache, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(cache, kernel_deb, force, log)


def _build_locked(cache, kernel_deb, force, log):
    kdir, kpkg, kver_pkg = fetch_kernel(cache, kernel_deb)
    kver = open(os.path.join(kdir, "version")).read().strip()
    files = guest_file_list()
    key_material = {
        "kernel": f"{kpkg} {kver_pkg}",
        "modules": GUEST_MODULES,
        "packages": owning_packages(files),
        "files": files,
        "builder": hashlib.sha256(open(__file__, "rb").read()).hexdigest(),
        "init": hashlib.sha256(open(INIT_SCRIPT, "rb").read()).hexdigest(),
    }
    key = hashlib.sha256(json.dumps(key_material, sort_keys=True).encode()).hexdigest()[:16]
    gdir = os.path.join(cache, "guest", key)
    initrd = os.path.join(gdir, "initrd.cpio")
    if force or not os.path.exists(initrd):
        log(f"building guest {key} (kernel {kver}) in {gdir}")
        os.makedirs(gdir, exist_ok=True)
        tmp = initrd + f".tmp{os.getpid()}"
        build_initramfs(tmp, kdir, kver, files)
        os.replace(tmp, initrd)  # atomic: a concurrent reader sees old or new
        with open(os.path.join(gdir, "key.json"), "w") as f:
            json.dump(key_material, f, indent=1, sort_keys=True)
    os.utime(gdir)  # most recently used first when pruning
    prune(os.path.join(cache, "guest"), keep=3)
    prune(os.path.join(cache, "kernel"), keep=2)
    return Guest(kernel=os.path.join(kdir, "vmlinux"), initrd=initrd,
                 kernel_version=kver, key=key)


def prune(parent, keep):
    """Delete all but the `keep` most recently used entries of a cache dir, so
    package upgrades don't pile up old guests (~25 MB) and kernels (~70 MB)."""
    entries = sorted((os.path.join(parent, e) for e in os.listdir(parent)),
                     key=os.path.getmtime, reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", help="cache directory (default: %(default)s)",
                    default=default_cache_dir())
    ap.add_argument("--kernel-deb", help="use this linux-image .deb instead of apt-get download")
    ap.add_argument("--force", action="store_true", help="rebuild the initramfs")
    args = ap.parse_args()
    try:
        g = build(args.cache, args.kernel_deb, args.force,
                  log=lambda m: print(m, file=sys.stderr))
    except BuildError as e:
        print(f"build_guest: {e}", file=sys.stderr)
        return 1
    print(f"kernel {g.kernel}\ninitrd {g.initrd}\nkey {g.key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
