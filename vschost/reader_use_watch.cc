// SPDX-License-Identifier: LGPL-2.1-or-later
// ReaderUseWatch: the rules are in reader_use_watch.h.
#define G_LOG_DOMAIN "vschost"

#include "reader_use_watch.h"

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include <chrono>
#include <utility>
#include <vector>

namespace vschost {

namespace {

// The PnP pseudo-reader: its state changes when readers come or go (pcsc-lite).
constexpr const char* kPnpReader = "\\\\?PnP?\\Notification";

// How stale a use may be, and so how short a session may be and still be seen:
// see run(). Ten small IPC round trips a second to pcscd.
constexpr DWORD kPollMilliseconds = 100;

ReaderUseWatch::Use use_of(DWORD state) {
  if ((state & SCARD_STATE_PRESENT) == 0) return ReaderUseWatch::Use::Free;
  if (state & SCARD_STATE_EXCLUSIVE) return ReaderUseWatch::Use::Exclusive;
  if (state & SCARD_STATE_INUSE) return ReaderUseWatch::Use::Shared;
  return ReaderUseWatch::Use::Free;
}

std::vector<std::string> list_readers(SCARDCONTEXT context, const std::string& prefix) {
  DWORD size = 0;
  std::vector<std::string> names;
  if (SCardListReaders(context, nullptr, nullptr, &size) != SCARD_S_SUCCESS || size == 0) {
    return names;
  }
  std::vector<char> buffer(size);
  if (SCardListReaders(context, nullptr, buffer.data(), &size) != SCARD_S_SUCCESS) return names;
  for (const char* p = buffer.data(); p < buffer.data() + size && *p != '\0';) {
    std::string name(p);
    p += name.size() + 1;
    if (name.starts_with(prefix)) names.push_back(std::move(name));
  }
  return names;
}

}  // namespace

ReaderUseWatch::ReaderUseWatch(GMainContext* context, std::string prefix, Handler handler)
    : context_(context), prefix_(std::move(prefix)), handler_(std::move(handler)) {
  thread_ = std::thread([this] { run(); });
}

ReaderUseWatch::~ReaderUseWatch() {
  *alive_ = false;
  stopping_ = true;
  if (long c = cancel_context_.load(); c != 0) SCardCancel(static_cast<SCARDCONTEXT>(c));
  thread_.join();
}

void ReaderUseWatch::post(std::string reader, Use use) {
  struct Call {
    ReaderUseWatch* self;
    std::shared_ptr<bool> alive;
    std::string reader;
    Use use;
  };
  g_main_context_invoke_full(
      context_, G_PRIORITY_DEFAULT,
      [](gpointer data) -> gboolean {
        auto* call = static_cast<Call*>(data);
        if (*call->alive) call->self->handler_(call->reader, call->use);
        return G_SOURCE_REMOVE;
      },
      new Call{this, alive_, std::move(reader), use},
      [](gpointer data) { delete static_cast<Call*>(data); });
}

void ReaderUseWatch::pause_a_second() {
  // In steps, so that the destructor does not wait for a whole second.
  for (int step = 0; step < 10 && !stopping_; ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void ReaderUseWatch::run() {
  std::map<std::string, Use> known;
  while (!stopping_) {
    SCARDCONTEXT context = 0;
    if (LONG erv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &context); erv !=
        SCARD_S_SUCCESS) {
      pause_a_second();  // pcscd not (yet) running
      continue;
    }
    cancel_context_ = static_cast<long>(context);
    if (stopping_) {  // the destructor may have missed the context: do not block
      cancel_context_ = 0;
      SCardReleaseContext(context);
      break;
    }
    bool relist = true;
    std::vector<std::string> names;
    std::vector<SCARD_READERSTATE> states;
    unsigned polls = 0;
    while (!stopping_) {
      // The PnP pseudo-reader only reports readers that come or go during one
      // call (pcsc-lite counts them when the call starts); between two calls
      // they are not seen, so the list is also read again every second.
      if (relist || ++polls % 10 == 0) {
        names = list_readers(context, prefix_);
        states.assign(names.size() + 1, SCARD_READERSTATE{});
        for (std::size_t i = 0; i < names.size(); ++i) {
          states[i].szReader = names[i].c_str();
          states[i].dwCurrentState = SCARD_STATE_UNAWARE;
        }
        states.back().szReader = kPnpReader;
        states.back().dwCurrentState = SCARD_STATE_UNAWARE;
        relist = false;
      }
      // Each call fetches pcscd's reader states afresh (winscard_clnt.c:
      // getReaderStatesAndRegisterForEvents at the top of SCardGetStatusChange),
      // and SCardConnect/SCardDisconnect write readerSharing there at once
      // (winscard.c: "rContext->readerState->readerSharing = rContext->contexts").
      // But a reader going free -> in use or free -> exclusive never sets
      // SCARD_STATE_CHANGED (winscard_clnt.c, "Now figure out sharing modes":
      // only leaving INUSE/EXCLUSIVE does), so such a call does not return
      // early: it times out with dwEventState filled in. Hence a short timeout,
      // and the use is read on SCARD_E_TIMEOUT as well as on success.
      LONG rv = SCardGetStatusChange(context, kPollMilliseconds, states.data(),
                                     static_cast<DWORD>(states.size()));
      if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
        g_debug("export: PC/SC reader watch: %s", pcsc_stringify_error(rv));
        break;  // cancelled, a reader went away, or pcscd did
      }
      for (std::size_t i = 0; i < names.size(); ++i) {
        const DWORD event = states[i].dwEventState;
        states[i].dwCurrentState = event & ~SCARD_STATE_CHANGED;
        const Use use = use_of(event);
        auto [it, inserted] = known.try_emplace(names[i], Use::Free);
        if (it->second != use) {  // only changes are handed on, not every poll
          it->second = use;
          post(names[i], use);
        }
      }
      SCARD_READERSTATE& pnp = states.back();
      if (pnp.dwEventState & SCARD_STATE_CHANGED) relist = true;
      pnp.dwCurrentState = pnp.dwEventState & ~SCARD_STATE_CHANGED;
    }
    cancel_context_ = 0;
    SCardReleaseContext(context);
    pause_a_second();
  }
}

}  // namespace vschost
