// SPDX-License-Identifier: LGPL-2.1-or-later
// Loading GnuTLS at first use (see gnutls_lib.h).
#include "transport/gnutls_lib.h"

#include <dlfcn.h>

namespace vscard::transport {

const GnutlsLib* gnutls_lib() {
  static const GnutlsLib* loaded = []() -> const GnutlsLib* {
    void* lib = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_LOCAL);  // never closed
    if (lib == nullptr) return nullptr;
    static GnutlsLib g;
    bool ok = true;
#define VSCARD_GNUTLS_LOAD(name)                                               \
  g.name = reinterpret_cast<decltype(&::name)>(dlsym(lib, #name));             \
  ok = ok && g.name != nullptr;
    VSCARD_GNUTLS_FUNCTIONS(VSCARD_GNUTLS_LOAD)
#undef VSCARD_GNUTLS_LOAD
    auto* free_var = static_cast<gnutls_free_function*>(dlsym(lib, "gnutls_free"));
    if (free_var == nullptr || *free_var == nullptr) return nullptr;
    g.free_memory = *free_var;
    return ok ? &g : nullptr;
  }();
  return loaded;
}

}  // namespace vscard::transport
