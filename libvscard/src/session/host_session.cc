// SPDX-License-Identifier: LGPL-2.1-or-later
// HostSession: input, output and the program's commands (see
// vscard/host_session.h). What the host answers to each client message is the
// policy's business: host_session_qemu.cc (QEMU 7.2, measured) and
// host_session_multi.cc.
#include "session/host_session_impl.h"

#include <algorithm>

#include "session/output_queue.h"
#include "session/qemu_policy.h"

namespace vscard {

HostSession::Impl::Impl(HostPolicy policy, EventHandler handler)
    : policy_(policy), handler_(std::move(handler)), decoder_(policy.max_message_size) {}

void HostSession::Impl::consume_output(std::size_t n) { session::consume(output_, output_sent_, n); }

void HostSession::Impl::emit(const HostEvent& event) {
  if (handler_) handler_(event);
}

void HostSession::Impl::violation(std::string_view what) {
  emit(host_event::ProtocolViolation{what});
}

bool HostSession::Impl::send(const Message& message) {
  if (!session::append_message(output_, output_sent_, message, policy_.max_message_size)) return false;
  if (notify_) notify_();
  return true;
}

void HostSession::Impl::send_error(ReaderId id, ErrorCode code) {
  send(Message{id, Error{static_cast<std::uint32_t>(code)}});
}

void HostSession::Impl::close(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  emit(host_event::Closed{reason});
  if (notify_) notify_();
}

void HostSession::Impl::receive(Bytes data) {
  if (closed_) return;
  for (std::size_t i = 0; first_seen_ < 2 && i < data.size(); ++i) {
    first_bytes_[first_seen_++] = data[i];
  }
  if (policy_.mode != HostPolicy::Mode::Qemu) {
    process(data);
    return;
  }
  // QEMU's reads, one by one (session/qemu_policy.h): each at most
  // CHR_READ_BUF_LEN bytes and at most the room its device has left; the
  // buffer empties only when a read ends on a message boundary; with no room
  // left QEMU never reads again.
  while (!data.empty()) {
    const std::size_t room = qemu::read_room(qemu_buffered_);
    if (room == 0) {
      close(qemu::kStallReason);
      return;
    }
    const Bytes one_read = data.first(std::min({qemu::kChardevReadSize, room, data.size()}));
    data = data.subspan(one_read.size());
    qemu_buffered_ += one_read.size();
    process(one_read);
    if (closed_) return;
    if (decoder_.buffered() == 0) qemu_buffered_ = 0;
  }
}

void HostSession::Impl::process(Bytes data) {
  while (!closed_) {
    const Decoded d = decoder_.next(data);
    switch (d.status) {
      case DecodeStatus::NeedMoreInput:
        return;
      case DecodeStatus::Message:
      case DecodeStatus::Malformed:
        if (policy_.mode == HostPolicy::Mode::Qemu) {
          handle_qemu(d);
        } else {
          handle_multi(d);
        }
        break;
      case DecodeStatus::Fatal:
        // A TLS ClientHello read as a VSCard header asks for a payload of
        // about 50 MB (its length field is the hello's version and random
        // bytes): name the mismatch, which the client sees only as silence.
        if (first_seen_ == 2 && first_bytes_[0] == 0x16 && first_bytes_[1] == 0x03 &&
            d.error == DecodeError::MessageTooLarge) {
          text_ = "the client began with a TLS hello (16 03...): a TLS client on a plaintext "
                  "host; turn TLS on at the host or off at the client";
          close(text_);
        } else if (policy_.mode == HostPolicy::Mode::Qemu &&
                   d.error == DecodeError::MessageTooLarge) {
          close(qemu::kStallReason);
        } else {
          text_ = "undecodable input from the client: ";
          text_ += to_string(d.error);
          close(text_);
        }
        return;
    }
  }
}

const HostSession::ReaderInfo* HostSession::Impl::reader(ReaderId id) const {
  for (const ReaderInfo& r : readers_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

HostSession::ReaderInfo* HostSession::Impl::find(ReaderId id) {
  return const_cast<ReaderInfo*>(static_cast<const Impl*>(this)->reader(id));
}

HostSession::ReaderInfo& HostSession::Impl::add_reader(ReaderId id, std::string_view name) {
  // readers() lists readers by id.
  auto at = std::lower_bound(readers_.begin(), readers_.end(), id,
                             [](const ReaderInfo& r, ReaderId v) { return r.id < v; });
  ReaderInfo info;
  info.id = id;
  info.name = std::string(name);
  return *readers_.insert(at, std::move(info));
}

void HostSession::Impl::remove_reader(ReaderId id) {
  std::erase_if(readers_, [id](const ReaderInfo& r) { return r.id == id; });
}

void HostSession::Impl::apdu_answer(ReaderId id, const Message* response, std::uint32_t error_code) {
  ReaderInfo* r = find(id);
  if (r == nullptr || !r->apdu_outstanding) {
    violation(response ? "APDU response from the client with no APDU outstanding; ignored"
                       : "Error from the client with no APDU outstanding; ignored");
    return;
  }
  r->apdu_outstanding = false;
  if (response) {
    emit(host_event::ApduResponse{id, std::get<Apdu>(response->body).data});
  } else {
    emit(host_event::ApduError{id, error_code});
  }
}

void HostSession::Impl::flush_complete(ReaderId id) {
  flushes_.erase(flushes_.begin());
  emit(host_event::FlushCompleted{id});
}

bool HostSession::Impl::send_apdu(ReaderId id, Bytes apdu) {
  if (closed_) return false;
  ReaderInfo* r = find(id);
  if (r == nullptr || !r->card_present || r->apdu_outstanding) return false;
  if (!r->powered || r->atr_outstanding) return false;
  // QEMU always sends APDUs with VSCARD_MINIMAL_READER_ID (its only reader).
  const ReaderId wire_id = policy_.mode == HostPolicy::Mode::Qemu ? kMinimalReaderId : id;
  if (!send(Message{wire_id, Apdu{apdu}})) return false;
  r->apdu_outstanding = true;
  return true;
}

bool HostSession::Impl::flush(ReaderId id) {
  if (closed_ || !send(Message{id, Flush{}})) return false;
  flushes_.push_back(id);
  return true;
}

bool HostSession::Impl::request_reconnect(std::string_view host, std::string_view port) {
  if (closed_ || policy_.mode == HostPolicy::Mode::Qemu || !client_init_received_ ||
      !client_capabilities_.has(kCapabilityReconnect)) {
    return false;
  }
  return send(Message{kUndefinedReaderId, Reconnect{host, port}});
}

std::string_view to_string(CardControlResult result) {
  switch (result) {
    case CardControlResult::Sent: return "sent";
    case CardControlResult::NotNegotiated: return "the client did not advertise the CardControl capability";
    case CardControlResult::UnknownReader: return "no such reader";
    case CardControlResult::UnknownEvent: return "unknown event code";
    case CardControlResult::NoCard: return "no card in the reader";
    case CardControlResult::ApduOutstanding: return "an APDU to the card is outstanding";
    case CardControlResult::AtrOutstanding: return "the ATR answering the last power on/reset has not come";
    case CardControlResult::NotPowered: return "the card is powered off";
    case CardControlResult::Closed: return "the session is closed";
  }
  return "unknown result";
}

CardControlResult HostSession::Impl::send_card_control(ReaderId id, CardControlEvent event) {
  using R = CardControlResult;
  if (closed_) return R::Closed;
  if (policy_.mode == HostPolicy::Mode::Qemu || !client_init_received_ ||
      !client_capabilities_.has(kCapabilityCardControl)) {
    return R::NotNegotiated;
  }
  const auto code = static_cast<std::uint32_t>(event);
  if (!is_known_card_control_event(code)) return R::UnknownEvent;
  ReaderInfo* r = find(id);
  if (r == nullptr) return R::UnknownReader;
  const bool wants_atr = card_control_wants_atr(event);
  if (wants_atr || event == CardControlEvent::PowerOff) {
    if (!r->card_present) return R::NoCard;
    if (r->apdu_outstanding) return R::ApduOutstanding;
    if (r->atr_outstanding) return R::AtrOutstanding;
    if (event == CardControlEvent::WarmReset && !r->powered) return R::NotPowered;
  }
  if (!send(Message{id, CardControl{code}})) return R::Closed;
  if (event == CardControlEvent::PowerOff) r->powered = false;
  if (wants_atr) {
    r->powered = true;
    r->atr_outstanding = true;
  }
  return R::Sent;
}

// --- the API: HostSession forwards to its Impl (host_session_impl.h) ---

HostSession::HostSession(HostPolicy policy, EventHandler handler)
    : impl_(std::make_unique<Impl>(policy, std::move(handler))) {}
HostSession::~HostSession() = default;
HostSession::HostSession(HostSession&&) noexcept = default;
HostSession& HostSession::operator=(HostSession&&) noexcept = default;

void HostSession::receive(Bytes data) { impl_->receive(data); }
Bytes HostSession::pending_output() const { return impl_->pending_output(); }
void HostSession::consume_output(std::size_t n) { impl_->consume_output(n); }
void HostSession::set_output_notifier(OutputNotifier notify) {
  impl_->set_output_notifier(std::move(notify));
}
bool HostSession::send_apdu(ReaderId id, Bytes apdu) { return impl_->send_apdu(id, apdu); }
bool HostSession::flush(ReaderId id) { return impl_->flush(id); }
bool HostSession::request_reconnect(std::string_view host, std::string_view port) {
  return impl_->request_reconnect(host, port);
}
CardControlResult HostSession::send_card_control(ReaderId id, CardControlEvent event) {
  return impl_->send_card_control(id, event);
}
const std::vector<HostSession::ReaderInfo>& HostSession::readers() const { return impl_->readers(); }
const HostSession::ReaderInfo* HostSession::reader(ReaderId id) const { return impl_->reader(id); }
bool HostSession::client_init_received() const { return impl_->client_init_received(); }
const Capabilities& HostSession::client_capabilities() const { return impl_->client_capabilities(); }
bool HostSession::closed() const { return impl_->closed(); }
const HostPolicy& HostSession::policy() const { return impl_->policy(); }

}  // namespace vscard
