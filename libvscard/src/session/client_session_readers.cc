// SPDX-License-Identifier: LGPL-2.1-or-later
// ClientSession: the program's commands for readers, cards and APDU answers.
#include <algorithm>

#include "session/client_session_impl.h"

namespace vscard {

const ClientSession::ReaderInfo* ClientSession::Impl::reader(ReaderHandle handle) const {
  return handle < readers_.size() ? &readers_[handle] : nullptr;
}

const ClientSession::ReaderInfo* ClientSession::Impl::active_reader(ReaderHandle handle) const {
  const ReaderInfo* r = reader(handle);
  return r && r->state == ReaderState::Active ? r : nullptr;
}

std::optional<ReaderHandle> ClientSession::Impl::find_active(ReaderId id) const {
  for (std::size_t i = 0; i < readers_.size(); ++i) {
    if (readers_[i].state == ReaderState::Active && readers_[i].id == id) {
      return static_cast<ReaderHandle>(i);
    }
  }
  return std::nullopt;
}

ReaderHandle ClientSession::Impl::add_reader(std::string name) {
  const auto handle = static_cast<ReaderHandle>(readers_.size());
  ReaderInfo info;
  info.name = std::move(name);
  readers_.push_back(std::move(info));
  private_.emplace_back();
  start_next_reader_add();
  return handle;
}

void ClientSession::Impl::start_next_reader_add() {
  // One ReaderAdd at a time: the host's reply carries the new id in its header
  // and nothing else, so replies can only be matched if they cannot overlap
  // (libcacard's vscclient waits on its pending_reader the same way).
  if (!host_init_received_ || reader_add_outstanding_ || closed_) return;
  for (std::size_t i = 0; i < readers_.size(); ++i) {
    ReaderInfo& r = readers_[i];
    if (r.state != ReaderState::Waiting) continue;
    // libcacard sends ReaderAdd with VSCARD_UNDEFINED_READER_ID; QEMU ignores
    // the name, a vschost shows it.
    if (!send_expecting(Message{kUndefinedReaderId, ReaderAdd{r.name}}, Expect::ReaderAdd,
                        static_cast<ReaderHandle>(i))) {
      // A name longer than a message: the reader cannot be announced.
      r.state = ReaderState::Rejected;
      emit(client_event::ReaderRejected{static_cast<ReaderHandle>(i),
                                        static_cast<std::uint32_t>(ErrorCode::General),
                                        "reader name too long for a message"});
      continue;
    }
    r.state = ReaderState::Adding;
    reader_add_outstanding_ = true;
    return;
  }
}

bool ClientSession::Impl::insert_card(ReaderHandle handle, Bytes atr) {
  if (handle >= readers_.size()) return false;
  ReaderInfo& r = readers_[handle];
  if (r.state == ReaderState::Rejected || r.state == ReaderState::Removed) return false;
  if (r.card_present || private_[handle].remove_requested) return false;
  if (atr.size() > options_.max_message_size - std::min(options_.max_message_size, kHeaderSize)) {
    return false;
  }
  r.atr.assign(atr.begin(), atr.end());
  r.card_present = true;
  if (r.state == ReaderState::Active) {
    private_[handle].atr_sent =
        send_expecting(Message{r.id, Atr{r.atr}}, Expect::Atr, handle);
  }
  return true;
}

bool ClientSession::Impl::send_reset_atr(ReaderHandle handle, Bytes atr) {
  if (handle >= readers_.size()) return false;
  ReaderInfo& r = readers_[handle];
  ReaderBook& book = private_[handle];
  if (!book.reset_atr_owed || !r.card_present || r.state != ReaderState::Active) return false;
  if (atr.size() > options_.max_message_size - std::min(options_.max_message_size, kHeaderSize)) {
    return false;
  }
  r.atr.assign(atr.begin(), atr.end());
  book.reset_atr_owed = false;
  book.atr_sent = send_expecting(Message{r.id, Atr{r.atr}}, Expect::Atr, handle);
  return true;
}

bool ClientSession::Impl::remove_card(ReaderHandle handle) {
  if (handle >= readers_.size()) return false;
  ReaderInfo& r = readers_[handle];
  ReaderBook& book = private_[handle];
  if (!r.card_present) return false;
  if (r.state == ReaderState::Rejected || r.state == ReaderState::Removed) return false;
  if (r.state == ReaderState::Active && book.atr_sent) {
    send_expecting(Message{r.id, CardRemove{}}, Expect::CardRemove, handle);
  }
  r.card_present = false;
  r.atr.clear();
  book.atr_sent = false;
  book.reset_atr_owed = false;
  return true;
}

bool ClientSession::Impl::remove_reader(ReaderHandle handle) {
  if (handle >= readers_.size()) return false;
  ReaderInfo& r = readers_[handle];
  switch (r.state) {
    case ReaderState::Rejected:
    case ReaderState::Removed:
      return false;
    case ReaderState::Waiting:
      r.state = ReaderState::Removed;
      r.card_present = false;
      r.atr.clear();
      return true;
    case ReaderState::Adding:
      // The host's reply is still owed; the removal follows it.
      if (private_[handle].remove_requested) return false;
      private_[handle].remove_requested = true;
      r.card_present = false;
      r.atr.clear();
      return true;
    case ReaderState::Active:
      send_removal(handle);
      return true;
  }
  return false;
}

void ClientSession::Impl::send_removal(ReaderHandle handle) {
  ReaderInfo& r = readers_[handle];
  ReaderBook& book = private_[handle];
  if (r.card_present && book.atr_sent) {
    send_expecting(Message{r.id, CardRemove{}}, Expect::CardRemove, handle);
  }
  send_expecting(Message{r.id, ReaderRemove{}}, Expect::ReaderRemove, handle);
  r.card_present = false;
  r.atr.clear();
  book.atr_sent = false;
  r.state = ReaderState::Removed;
  // The host forgets the reader's APDUs with the reader; a Flush waiting on
  // them must not wait forever.
  drop_apdus(handle);
}

void ClientSession::Impl::drop_apdus(ReaderHandle handle) {
  readers_[handle].outstanding_apdus = 0;
  private_[handle].apdu_seqs.clear();
  complete_flushes();
}

bool ClientSession::Impl::answer_apdu(ReaderHandle handle, const Message& answer) {
  if (closed_) return false;
  const ReaderInfo* r = active_reader(handle);
  if (r == nullptr || r->outstanding_apdus == 0) return false;
  if (!send(answer)) return false;
  ReaderBook& book = private_[handle];
  // Answers go in the order the APDUs came (one at a time from QEMU anyway).
  book.apdu_seqs.erase(book.apdu_seqs.begin());
  --readers_[handle].outstanding_apdus;
  complete_flushes();
  return true;
}

bool ClientSession::Impl::send_apdu_response(ReaderHandle handle, Bytes response) {
  const ReaderInfo* r = active_reader(handle);
  return r != nullptr && answer_apdu(handle, Message{r->id, Apdu{response}});
}

bool ClientSession::Impl::send_error(ReaderHandle handle, ErrorCode code) {
  const ReaderInfo* r = active_reader(handle);
  return r != nullptr &&
         answer_apdu(handle, Message{r->id, Error{static_cast<std::uint32_t>(code)}});
}

}  // namespace vscard
