// SPDX-License-Identifier: LGPL-2.1-or-later
// LD_PRELOAD shim: dlopen() of any libgnutls.so* fails, as on a machine
// without GnuTLS, while libraries linked against it (glib-networking) still
// load. libvscard opens GnuTLS itself at first use (transport/gnutls_lib.h);
// test_vschost_tls checks what vschost says when that fails.
#include <dlfcn.h>

#include <cstring>

extern "C" void* dlopen(const char* file, int mode) {
  using DlopenFn = void* (*)(const char*, int);
  static DlopenFn real = reinterpret_cast<DlopenFn>(dlsym(RTLD_NEXT, "dlopen"));
  if (file != nullptr && std::strstr(file, "libgnutls.so") != nullptr) return nullptr;
  return real(file, mode);
}
