# SPDX-License-Identifier: LGPL-2.1-or-later
"""A writer for the newc ("070701") cpio format the kernel's initramfs
unpacker reads (the kernel's Documentation/driver-api/early-userspace/
buffer-format.rst), deterministic so the same input gives the same bytes."""
import os


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
