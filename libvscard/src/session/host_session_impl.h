// SPDX-License-Identifier: LGPL-2.1-or-later
// HostSession's state and rules. The installed header vscard/host_session.h holds
// only the API, whose calls forward here. One Impl per session, allocated with
// it: a message costs an indirection, never an allocation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vscard/decoder.h"
#include "vscard/host_session.h"

namespace vscard {

struct HostSession::Impl {
  Impl(HostPolicy policy, EventHandler handler);

  // The API's calls (vscard/host_session.h says what each does).
  void receive(Bytes data);
  void consume_output(std::size_t n);
  bool send_apdu(ReaderId id, Bytes apdu);
  bool flush(ReaderId id);
  bool request_reconnect(std::string_view host, std::string_view port);
  CardControlResult send_card_control(ReaderId id, CardControlEvent event);
  const ReaderInfo* reader(ReaderId id) const;
  Bytes pending_output() const { return Bytes(output_).subspan(output_sent_); }
  void set_output_notifier(OutputNotifier notify) { notify_ = std::move(notify); }
  const std::vector<ReaderInfo>& readers() const { return readers_; }
  bool client_init_received() const { return client_init_received_; }
  const Capabilities& client_capabilities() const { return client_capabilities_; }
  bool closed() const { return closed_; }
  const HostPolicy& policy() const { return policy_; }

  void emit(const HostEvent& event);
  void violation(std::string_view what);
  bool send(const Message& message);
  void send_error(ReaderId id, ErrorCode code);
  void close(std::string_view reason);
  void process(Bytes data);
  void handle(const Decoded& decoded);
  // One handler per policy (host_session_qemu.cc, host_session_multi.cc).
  void handle_qemu(const Decoded& decoded);
  void handle_multi(const Decoded& decoded);
  // Shared by both policies: the client's answer to an APDU we sent.
  void apdu_answer(ReaderId id, const Message* response, std::uint32_t error_code);
  void flush_complete(ReaderId id);
  ReaderInfo* find(ReaderId id);
  ReaderInfo& add_reader(ReaderId id, std::string_view name);
  void remove_reader(ReaderId id);

  HostPolicy policy_;
  EventHandler handler_;
  OutputNotifier notify_;
  Decoder decoder_;
  std::vector<std::uint8_t> output_;
  std::size_t output_sent_ = 0;
  bool client_init_received_ = false;
  bool closed_ = false;
  Capabilities client_capabilities_{};
  std::vector<ReaderInfo> readers_;
  std::vector<ReaderId> flushes_;  // Flush messages sent and not yet completed
  // Qemu policy: bytes QEMU would hold in its 64 KiB input buffer, which it
  // only empties when every byte in it has been parsed (host_session_qemu.cc).
  std::size_t qemu_buffered_ = 0;
  // The connection's first two bytes: 16 03 is a TLS handshake record, a TLS
  // client's hello, whose header QEMU and we read as a VSCard header.
  std::uint8_t first_bytes_[2] = {0, 0};
  std::size_t first_seen_ = 0;
  std::string text_;  // composed text for events (valid during the handler call)
};

}  // namespace vscard
