#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
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
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cpio_newc import Cpio  # noqa: E402
from guest_errors import BuildError, run  # noqa: E402
from guest_kernel import GUEST_MODULES, fetch_kernel  # noqa: E402

INIT_SCRIPT = os.path.join(HERE, "init.sh")
# Everything that decides the guest's contents, hashed into its cache key.
BUILDER_SOURCES = [os.path.join(HERE, f) for f in
                   ("build_guest.py", "guest_kernel.py", "cpio_newc.py", "init.sh")]
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
    out = run(["dpkg-query", "-W", "-f", "${Package}:${Architecture} ${Version}\n"]
               + sorted(pkgs))
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


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
        "builder": [hashlib.sha256(open(p, "rb").read()).hexdigest()
                    for p in BUILDER_SOURCES],
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
