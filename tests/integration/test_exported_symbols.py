# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvscard.so exports its API and nothing else.

The library is built with hidden visibility (libvscard/meson.build) and the
installed headers mark what is public (vscard/export.h). `nm -D --defined-only`
lists what the shared library exports; demangled, every symbol must be:
- in namespace vscard:: and not in one of the internal namespaces of src/
  (wire::, session::, transport::, present::, qemu::) nor an anonymous one,
  nor an API class's private Impl, or
- a weak instantiation of a standard-library template or typeinfo/vtable the
  compiler emits for API types (those cannot be hidden from a C++ ABI).
"""
import re
import subprocess
import unittest

from build_tree import library

# ...nor a member of an API class's private Impl (VSCARD_HIDDEN, vscard/export.h). A
# standard template instantiated for one (std::__shared_ptr<vscard::Listener::Impl>)
# is a weak symbol the ABI shares, as above.
INTERNAL = re.compile(r"vscard::(wire|session|transport|present|qemu)::|\(anonymous namespace\)"
                      r"|vscard::\w+::Impl::")


def exported(library):
    out = subprocess.run(["nm", "-D", "--defined-only", "-C", str(library)], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    symbols = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            symbols.append((parts[1], parts[2]))
    return symbols


class ExportedSymbolsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.library = library("libvscard.so")

    def setUp(self):
        if not self.library.exists():
            self.skipTest(f"SKIPPED: {self.library} was not built")

    def test_no_internal_symbol_is_exported(self):
        leaked = [name for _, name in exported(self.library) if INTERNAL.search(name)]
        self.assertEqual(leaked, [], "internal symbols exported by libvscard.so")

    def test_every_strong_symbol_is_vscard_api(self):
        # T (code) and D/B/R (data) are what the library defines itself; W/V/u
        # are template instantiations and typeinfo the ABI shares.
        strong = [(kind, name) for kind, name in exported(self.library) if kind in "TDBR"]
        self.assertTrue(strong, "no symbols at all: nm read the wrong file?")
        # __odr_asan.*: AddressSanitizer's ODR indicators for exported globals.
        foreign = [name for kind, name in strong
                   if not re.match(r"(vscard::|(typeinfo|typeinfo name|vtable) for vscard::|__odr_asan)",
                                   name)]
        self.assertEqual(foreign, [], "exported symbols outside the vscard:: API")

    def test_no_private_state_is_exported(self):
        # The API classes' Impl (their private state) is libvscard's alone; the
        # only mentions left are the weak std:: templates instantiated for it.
        strong = [name for kind, name in exported(self.library) if kind in "TDBR" and "::Impl" in name]
        self.assertEqual(strong, [], "private Impl code exported by libvscard.so")

    def test_the_api_is_exported(self):
        names = {name for _, name in exported(self.library)}
        for wanted in ("vscard::ClientSession::receive", "vscard::HostSession::receive",
                       "vscard::encode", "vscard::Connection::write", "vscard::parse_atr"):
            self.assertTrue(any(n.startswith(wanted + "(") for n in names), wanted)


if __name__ == "__main__":
    unittest.main()
