// SPDX-License-Identifier: LGPL-2.1-or-later
// ClientSession: input, handshake and the host's replies (see
// vscard/client_session.h; the rules are tabled in docs/protocol.md,
// "Session state machines"). Reader and card commands are in
// client_session_readers.cc.
#include "session/client_session_impl.h"

#include <string>

#include "session/output_queue.h"
#include "vscard/overloaded.h"

namespace vscard {

ClientSession::Impl::Impl(Options options, EventHandler handler)
    : options_(options), handler_(std::move(handler)), decoder_(options.max_message_size) {
  restart();
}

void ClientSession::Impl::restart() {
  ++epoch_;
  session::discard(output_, output_sent_);
  decoder_.reset();
  host_init_received_ = false;
  closed_ = false;
  host_version_ = 0;
  host_capabilities_ = {};
  reader_add_outstanding_ = false;
  acks_.clear();
  acks_head_ = 0;
  flushes_.clear();
  for (std::size_t i = 0; i < readers_.size(); ++i) {
    ReaderInfo& r = readers_[i];
    ReaderBook& book = private_[i];
    // A removal the old host never confirmed is still what the program wants.
    if (book.remove_requested) r.state = ReaderState::Removed;
    if (r.state != ReaderState::Removed) r.state = ReaderState::Waiting;
    r.id = kUndefinedReaderId;
    r.outstanding_apdus = 0;
    book = ReaderBook{};
  }
  // libcacard's vscclient sends its Init with reader_id 0; so do we.
  Init init;
  init.capabilities.words[0] = options_.capabilities;
  init.capabilities.count = 1;
  send(Message{0, init});
}

void ClientSession::Impl::consume_output(std::size_t n) { session::consume(output_, output_sent_, n); }

bool ClientSession::Impl::negotiated(std::uint32_t capability) const {
  return host_init_received_ && host_capabilities_.has(capability) &&
         (options_.capabilities & capability) != 0;
}

void ClientSession::Impl::emit(const ClientEvent& event) {
  if (handler_) handler_(event);
}

void ClientSession::Impl::violation(std::string_view what) {
  emit(client_event::ProtocolViolation{what});
}

bool ClientSession::Impl::send(const Message& message) {
  if (!session::append_message(output_, output_sent_, message, options_.max_message_size)) return false;
  if (notify_) notify_();
  return true;
}

bool ClientSession::Impl::send_expecting(const Message& message, Expect what, ReaderHandle reader) {
  if (!send(message)) return false;
  if (acks_head_ == acks_.size()) {
    acks_.clear();
    acks_head_ = 0;
  }
  acks_.push_back(Ack{what, reader});
  return true;
}

void ClientSession::Impl::close(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  emit(client_event::Closed{reason});
  if (notify_) notify_();
}

void ClientSession::Impl::receive(Bytes data) {
  const std::uint64_t epoch = epoch_;
  while (!closed_ && epoch == epoch_) {
    const Decoded d = decoder_.next(data);
    switch (d.status) {
      case DecodeStatus::NeedMoreInput:
        return;
      case DecodeStatus::Message:
        handle(d.message);
        break;
      case DecodeStatus::Malformed:
        handle_malformed(d);
        break;
      case DecodeStatus::Fatal:
        text_ = "undecodable input from the host: ";
        text_ += to_string(d.error);
        close(text_);
        return;
    }
  }
}

void ClientSession::Impl::handle_malformed(const Decoded& d) {
  switch (static_cast<MessageType>(d.header.type)) {
    case MessageType::Init:
      // libcacard's vscclient stops reading when the host's magic is wrong:
      // whatever follows is not VSCard.
      text_ = "the host's Init is malformed: ";
      text_ += to_string(d.error);
      close(text_);
      return;
    case MessageType::Error:
      // Still a reply to what we sent; count it as a failure so the replies
      // that follow stay matched to the right requests.
      violation("Error from the host with a payload that is not 4 bytes; taken as general error");
      handle_error(d.header.reader_id, static_cast<std::uint32_t>(ErrorCode::General));
      return;
    default:
      text_ = "malformed message from the host ignored: ";
      text_ += to_string(d.error);
      violation(text_);
      return;
  }
}

void ClientSession::Impl::handle(const Message& message) {
  std::visit(
      Overloaded{
          [&](const Init& init) { handle_host_init(init); },
          [&](const Error& e) { handle_error(message.reader_id, e.code); },
          [&](const Apdu& a) { handle_apdu(message.reader_id, a.data); },
          [&](const Flush&) { handle_flush(message.reader_id); },
          [&](const CardControl& c) { handle_card_control(message.reader_id, c.code); },
          [&](const Reconnect& r) {
            if (negotiated(kCapabilityReconnect)) {
              emit(client_event::ReconnectRequested{r.host, r.port});
            } else {
              violation("Reconnect from a host without the negotiated capability; ignored");
            }
          },
          [&](const auto&) {
            // ReaderAdd, ReaderRemove, ATR, CardRemove, FlushComplete and unknown
            // types only travel client to host. Answering with an Error would be
            // read by QEMU as an APDU failure, so the only outcome is the event.
            text_ = "unexpected message type ";
            text_ += std::to_string(message.type());
            text_ += " (";
            text_ += to_string(static_cast<MessageType>(message.type()));
            text_ += ") from the host; ignored";
            violation(text_);
          },
      },
      message.body);
}

void ClientSession::Impl::handle_host_init(const Init& init) {
  if (host_init_received_) {
    violation("second Init from the host; ignored");
    return;
  }
  host_init_received_ = true;
  host_version_ = init.version;
  host_capabilities_ = init.capabilities;
  start_next_reader_add();
  emit(client_event::HostInit{init.version, init.capabilities, init.version != kProtocolVersion});
}

void ClientSession::Impl::handle_error(ReaderId id, std::uint32_t code) {
  if (acks_head_ == acks_.size()) {
    emit(client_event::HostError{id, code});
    return;
  }
  const Ack ack = acks_[acks_head_++];
  const bool ok = code == static_cast<std::uint32_t>(ErrorCode::Success);
  switch (ack.what) {
    case Expect::ReaderAdd:
      handle_reader_add_reply(ack.reader, id, code);
      return;
    case Expect::Atr:
      if (!ok) {
        ReaderInfo& r = readers_[ack.reader];
        r.card_present = false;
        r.atr.clear();
        private_[ack.reader].atr_sent = false;
        emit(client_event::AtrRejected{ack.reader, code});
      }
      return;
    case Expect::CardRemove:
    case Expect::ReaderRemove:
      if (!ok) emit(client_event::HostError{id, code});
      return;
  }
}

void ClientSession::Impl::handle_reader_add_reply(ReaderHandle handle, ReaderId id, std::uint32_t code) {
  reader_add_outstanding_ = false;
  ReaderInfo& r = readers_[handle];
  ReaderBook& book = private_[handle];
  if (code != static_cast<std::uint32_t>(ErrorCode::Success)) {
    r.state = book.remove_requested ? ReaderState::Removed : ReaderState::Rejected;
    const bool tell = !book.remove_requested;
    start_next_reader_add();
    if (tell) {
      text_ = "the host refused the reader: ";
      text_ += to_string(static_cast<ErrorCode>(code));
      emit(client_event::ReaderRejected{handle, code, text_});
    }
    return;
  }
  if (find_active(id)) {
    // QEMU answers every ReaderAdd with id 0: its passthru device is one reader
    // per connection. Sending ReaderRemove here would detach the first reader.
    r.state = book.remove_requested ? ReaderState::Removed : ReaderState::Rejected;
    const bool tell = !book.remove_requested;
    start_next_reader_add();
    if (tell) {
      text_ = "the host gave reader id " + std::to_string(id) +
              ", already used by another reader of this connection (QEMU's "
              "ccid-card-passthru supports one reader per connection)";
      emit(client_event::ReaderRejected{handle, code, text_});
    }
    return;
  }
  r.state = ReaderState::Active;
  r.id = id;
  if (book.remove_requested) {
    send_removal(handle);
    start_next_reader_add();
    return;
  }
  if (r.card_present && !book.atr_sent) {
    book.atr_sent = send_expecting(Message{r.id, Atr{r.atr}}, Expect::Atr, handle);
  }
  start_next_reader_add();
  emit(client_event::ReaderAccepted{handle, id});
}

void ClientSession::Impl::handle_apdu(ReaderId id, Bytes apdu) {
  const auto handle = find_active(id);
  if (!handle) {
    send(Message{id, Error{static_cast<std::uint32_t>(ErrorCode::General)}});
    text_ = "APDU for reader id " + std::to_string(id) +
            ", which this client does not have; answered Error(general)";
    violation(text_);
    return;
  }
  ReaderInfo& r = readers_[*handle];
  if (!r.card_present) {
    // Usually a race with our CardRemove; the host gets an answer either way.
    send(Message{id, Error{static_cast<std::uint32_t>(ErrorCode::General)}});
    violation("APDU for a reader without a card; answered Error(general)");
    return;
  }
  ++r.outstanding_apdus;
  private_[*handle].apdu_seqs.push_back(apdus_received_++);
  emit(client_event::ApduReceived{*handle, apdu});
}

void ClientSession::Impl::handle_flush(ReaderId id) {
  flushes_.push_back(PendingFlush{apdus_received_, id});
  complete_flushes();
}

void ClientSession::Impl::complete_flushes() {
  if (flushes_.empty()) return;
  // The oldest APDU still owed an answer, over all readers.
  std::uint64_t oldest = apdus_received_;
  for (const ReaderBook& book : private_) {
    if (!book.apdu_seqs.empty() && book.apdu_seqs.front() < oldest) oldest = book.apdu_seqs.front();
  }
  std::size_t done = 0;
  while (done < flushes_.size() && flushes_[done].after <= oldest) {
    send(Message{flushes_[done].id, FlushComplete{}});
    ++done;
  }
  if (done > 0) flushes_.erase(flushes_.begin(), flushes_.begin() + static_cast<std::ptrdiff_t>(done));
}

// The CardControl extension's rules (docs/protocol.md, "CardControl"): every
// refusal is a ProtocolViolation and nothing is sent, because no Error may go
// out that the host would match against an APDU.
void ClientSession::Impl::handle_card_control(ReaderId id, std::uint32_t code) {
  if (!negotiated(kCapabilityCardControl)) {
    violation("CardControl from a host without the negotiated capability; ignored");
    return;
  }
  if (!is_known_card_control_event(code)) {
    text_ = "CardControl with unknown event code " + std::to_string(code) + "; ignored";
    violation(text_);
    return;
  }
  const auto event = static_cast<CardControlEvent>(code);
  const auto handle = find_active(id);
  if (!handle) {
    text_ = "CardControl for reader id " + std::to_string(id) +
            ", which this client does not have; ignored";
    violation(text_);
    return;
  }
  const bool power = event == CardControlEvent::PowerOff || card_control_wants_atr(event);
  if (power) {
    const ReaderInfo& r = readers_[*handle];
    if (!r.card_present) {
      // A race with our CardRemove: the host learns there is no card from it.
      violation("CardControl power event for a reader without a card; ignored");
      return;
    }
    if (r.outstanding_apdus > 0) {
      // The host must not overtake its own APDU (it cannot know whether the
      // card ran it); the APDU stays owed and its answer goes out as usual.
      violation("CardControl power event while an APDU is outstanding; ignored");
      return;
    }
    private_[*handle].reset_atr_owed = card_control_wants_atr(event);
  }
  emit(client_event::CardControlReceived{*handle, event});
}

// --- the API: ClientSession forwards to its Impl (client_session_impl.h) ---

ClientSession::ClientSession(Options options, EventHandler handler)
    : impl_(std::make_unique<Impl>(options, std::move(handler))) {}
ClientSession::~ClientSession() = default;
ClientSession::ClientSession(ClientSession&&) noexcept = default;
ClientSession& ClientSession::operator=(ClientSession&&) noexcept = default;

void ClientSession::receive(Bytes data) { impl_->receive(data); }
Bytes ClientSession::pending_output() const { return impl_->pending_output(); }
void ClientSession::consume_output(std::size_t n) { impl_->consume_output(n); }
void ClientSession::set_output_notifier(OutputNotifier notify) {
  impl_->set_output_notifier(std::move(notify));
}
ReaderHandle ClientSession::add_reader(std::string name) { return impl_->add_reader(std::move(name)); }
bool ClientSession::insert_card(ReaderHandle reader, Bytes atr) { return impl_->insert_card(reader, atr); }
bool ClientSession::remove_card(ReaderHandle reader) { return impl_->remove_card(reader); }
bool ClientSession::remove_reader(ReaderHandle reader) { return impl_->remove_reader(reader); }
bool ClientSession::send_apdu_response(ReaderHandle reader, Bytes response) {
  return impl_->send_apdu_response(reader, response);
}
bool ClientSession::send_error(ReaderHandle reader, ErrorCode code) {
  return impl_->send_error(reader, code);
}
bool ClientSession::send_reset_atr(ReaderHandle reader, Bytes atr) {
  return impl_->send_reset_atr(reader, atr);
}
void ClientSession::restart() { impl_->restart(); }
bool ClientSession::host_init_received() const { return impl_->host_init_received(); }
bool ClientSession::closed() const { return impl_->closed(); }
const Capabilities& ClientSession::host_capabilities() const { return impl_->host_capabilities(); }
std::uint32_t ClientSession::host_version() const { return impl_->host_version(); }
bool ClientSession::negotiated(std::uint32_t capability) const { return impl_->negotiated(capability); }
const ClientSession::ReaderInfo* ClientSession::reader(ReaderHandle handle) const {
  return impl_->reader(handle);
}
std::size_t ClientSession::reader_count() const { return impl_->reader_count(); }

}  // namespace vscard
