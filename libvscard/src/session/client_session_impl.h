// SPDX-License-Identifier: LGPL-2.1-or-later
// ClientSession's state and rules. The installed header vscard/client_session.h holds
// only the API, whose calls forward here. One Impl per session, allocated with
// it: a message costs an indirection, never an allocation.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vscard/client_session.h"
#include "vscard/decoder.h"

namespace vscard {

struct ClientSession::Impl {
  Impl(Options options, EventHandler handler);

  // The API's calls (vscard/client_session.h says what each does).
  void receive(Bytes data);
  void consume_output(std::size_t n);
  ReaderHandle add_reader(std::string name);
  bool insert_card(ReaderHandle reader, Bytes atr);
  bool remove_card(ReaderHandle reader);
  bool remove_reader(ReaderHandle reader);
  bool send_apdu_response(ReaderHandle reader, Bytes response);
  bool send_error(ReaderHandle reader, ErrorCode code);
  bool send_reset_atr(ReaderHandle reader, Bytes atr);
  void restart();
  bool negotiated(std::uint32_t capability) const;
  const ReaderInfo* reader(ReaderHandle handle) const;
  Bytes pending_output() const { return Bytes(output_).subspan(output_sent_); }
  void set_output_notifier(OutputNotifier notify) { notify_ = std::move(notify); }
  bool host_init_received() const { return host_init_received_; }
  bool closed() const { return closed_; }
  const Capabilities& host_capabilities() const { return host_capabilities_; }
  std::uint32_t host_version() const { return host_version_; }
  std::size_t reader_count() const { return readers_.size(); }

  // Private bookkeeping per reader, parallel to readers_.
  struct ReaderBook {
    bool atr_sent = false;           // the host has seen the current card's ATR
    bool remove_requested = false;   // remove_reader() while ReaderAdd was outstanding
    bool reset_atr_owed = false;     // a PowerOn/WarmReset waits for send_reset_atr()
    std::vector<std::uint64_t> apdu_seqs;  // sequence numbers of owed answers, oldest first
  };
  // What each Error from the host answers, oldest first (QEMU answers in order).
  enum class Expect : std::uint8_t { ReaderAdd, Atr, CardRemove, ReaderRemove };
  struct Ack {
    Expect what;
    ReaderHandle reader;
  };
  // A Flush is answered once every APDU received before it (sequence < after)
  // has been answered.
  struct PendingFlush {
    std::uint64_t after;
    ReaderId id;
  };

  void emit(const ClientEvent& event);
  void violation(std::string_view what);
  bool send(const Message& message);
  bool send_expecting(const Message& message, Expect what, ReaderHandle reader);
  void handle(const Message& message);
  void handle_malformed(const Decoded& decoded);
  void handle_host_init(const Init& init);
  void handle_error(ReaderId id, std::uint32_t code);
  void handle_reader_add_reply(ReaderHandle handle, ReaderId id, std::uint32_t code);
  void handle_apdu(ReaderId id, Bytes apdu);
  void handle_flush(ReaderId id);
  void handle_card_control(ReaderId id, std::uint32_t code);
  void start_next_reader_add();
  void send_removal(ReaderHandle handle);
  bool answer_apdu(ReaderHandle handle, const Message& answer);
  void drop_apdus(ReaderHandle handle);
  void complete_flushes();
  void close(std::string_view reason);
  const ReaderInfo* active_reader(ReaderHandle handle) const;
  std::optional<ReaderHandle> find_active(ReaderId id) const;

  Options options_;
  EventHandler handler_;
  OutputNotifier notify_;
  Decoder decoder_;
  std::vector<std::uint8_t> output_;
  std::size_t output_sent_ = 0;

  bool host_init_received_ = false;
  bool closed_ = false;
  std::uint32_t host_version_ = 0;
  Capabilities host_capabilities_{};
  // Bumped by restart(): receive() stops feeding input of the old connection.
  std::uint64_t epoch_ = 0;
  std::string text_;  // composed text for events (valid during the handler call)

  std::vector<ReaderInfo> readers_;  // indexed by ReaderHandle
  std::vector<ReaderBook> private_;
  bool reader_add_outstanding_ = false;
  std::vector<Ack> acks_;
  std::size_t acks_head_ = 0;
  std::uint64_t apdus_received_ = 0;
  std::vector<PendingFlush> flushes_;
};

}  // namespace vscard
