// SPDX-License-Identifier: LGPL-2.1-or-later
// Owning smart pointers for the GLib/GIO handles the transport API hands out or
// takes: every GObject, GError, GSource and GMainContext is released by RAII.
//
//   vscard::GErrorPtr error;
//   auto listener = vscard::Listener::create(address, options, on_accept, on_reject, error.out());
//   if (!listener) g_printerr("vschost: %s\n", error->message);
#pragma once

#include <gio/gio.h>

#include <memory>
#include <utility>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

struct GObjectUnref {
  void operator()(gpointer object) const { g_object_unref(object); }
};
// Holds one reference to a GObject-derived T (GSocketConnection, GTlsCertificate...).
template <class T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

// Takes a new reference (for objects we only borrow, e.g. from a callback).
template <class T>
GObjectPtr<T> ref_object(T* object) {
  return GObjectPtr<T>(object ? static_cast<T*>(g_object_ref(object)) : nullptr);
}

struct GMainContextUnref {
  void operator()(GMainContext* context) const { g_main_context_unref(context); }
};
using GMainContextPtr = std::unique_ptr<GMainContext, GMainContextUnref>;

// A GSource attached to a context: destroying the pointer removes it from the
// context (so its callback never runs after its owner is gone) and unrefs it.
struct GSourceDestroy {
  void operator()(GSource* source) const {
    g_source_destroy(source);
    g_source_unref(source);
  }
};
using GSourcePtr = std::unique_ptr<GSource, GSourceDestroy>;

// A GError slot: pass out() to a function taking GError**; reads like a GError*.
class GErrorPtr {
 public:
  GErrorPtr() = default;
  explicit GErrorPtr(GError* error) : error_(error) {}
  GErrorPtr(GErrorPtr&& other) noexcept : error_(std::exchange(other.error_, nullptr)) {}
  GErrorPtr& operator=(GErrorPtr&& other) noexcept {
    if (this != &other) reset(std::exchange(other.error_, nullptr));
    return *this;
  }
  GErrorPtr(const GErrorPtr&) = delete;
  GErrorPtr& operator=(const GErrorPtr&) = delete;
  ~GErrorPtr() { reset(); }

  // Clears any previous error and returns the slot for a GError** parameter.
  GError** out() {
    reset();
    return &error_;
  }
  GError* get() const { return error_; }
  GError* release() { return std::exchange(error_, nullptr); }
  void reset(GError* error = nullptr) {
    if (error_) g_error_free(error_);
    error_ = error;
  }
  GError* operator->() const { return error_; }
  explicit operator bool() const { return error_ != nullptr; }
  // The message, or "" when there is no error.
  const char* message() const { return error_ ? error_->message : ""; }

 private:
  GError* error_ = nullptr;
};

VSCARD_API_END
}  // namespace vscard
