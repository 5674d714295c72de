// SPDX-License-Identifier: LGPL-2.1-or-later
// ReaderUseWatch: vschost --export-pcsc watching its own exported readers
// through PC/SC, to learn when an application's session on a card starts and
// ends (issue 15: the CardControl events reader in use / not in use /
// exclusive, docs/protocol.md).
//
// pcscd reports SCARD_STATE_INUSE for a reader while any application holds a
// handle to its card (SCardConnect until SCardDisconnect) and
// SCARD_STATE_EXCLUSIVE while one holds it with SCARD_SHARE_EXCLUSIVE
// (pcsc-lite 1.9.9: winscard.c writes the sharing count into the published
// reader state, winscard_clnt.c's SCardGetStatusChange turns it into those
// bits). Taking a reader does not wake a waiting SCardGetStatusChange (only
// leaving it does), so one thread polls: SCardGetStatusChange with a 100 ms
// timeout on the readers whose name starts with `prefix` (vpcd's "Virtual
// PCD"), reading the use after a timeout too. A session shorter than a poll may
// be missed. Each change of use (not each poll) is handed to the main context.
// pcscd not running, or going away, is retried every second, quietly.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <glib.h>

namespace vschost {

class ReaderUseWatch {
 public:
  enum class Use { Free, Shared, Exclusive };
  // Runs on `context` (the main context), in the order pcscd reported.
  using Handler = std::function<void(const std::string& reader, Use use)>;

  ReaderUseWatch(GMainContext* context, std::string prefix, Handler handler);
  // Cancels the blocking call (SCardCancel) and joins the thread.
  ~ReaderUseWatch();
  ReaderUseWatch(const ReaderUseWatch&) = delete;
  ReaderUseWatch& operator=(const ReaderUseWatch&) = delete;

 private:
  void run();
  void pause_a_second();
  void post(std::string reader, Use use);

  GMainContext* context_;
  std::string prefix_;
  Handler handler_;
  std::atomic<bool> stopping_{false};
  std::atomic<long> cancel_context_{0};  // the thread's SCARDCONTEXT, for SCardCancel
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // main thread only
  std::thread thread_;
};

}  // namespace vschost
