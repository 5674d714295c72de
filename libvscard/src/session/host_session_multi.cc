// SPDX-License-Identifier: LGPL-2.1-or-later
// HostPolicy::Multi: several readers with their own ids, ISO 7816-3 ATR checks,
// an Error code for every request it refuses (docs/protocol.md tables them).
// The reply shapes follow QEMU's: Error replies echo the client's reader_id,
// a refused ReaderAdd carries VSCARD_UNDEFINED_READER_ID.
#include <string>

#include "vscard/atr.h"
#include "session/host_session_impl.h"
#include "vscard/overloaded.h"

namespace vscard {

namespace {
bool answered_with_error(std::uint32_t type) {
  // APDU and Error are answers themselves; answering them could loop.
  return type != static_cast<std::uint32_t>(MessageType::Apdu) &&
         type != static_cast<std::uint32_t>(MessageType::Error);
}
}  // namespace

void HostSession::Impl::handle_multi(const Decoded& d) {
  const ReaderId rid = d.header.reader_id;
  const std::uint32_t type = d.header.type;
  const bool is_init = type == static_cast<std::uint32_t>(MessageType::Init);
  const bool is_reader_add = type == static_cast<std::uint32_t>(MessageType::ReaderAdd);
  // A refused ReaderAdd has no reader to name (QEMU uses the undefined id too).
  const ReaderId reply_id = is_reader_add ? kUndefinedReaderId : rid;

  if (d.status == DecodeStatus::Malformed) {
    text_ = "malformed ";
    text_ += to_string(static_cast<MessageType>(type));
    text_ += " from the client: ";
    text_ += to_string(d.error);
    if (is_init) {
      // Not a VSCard client (libcacard's vscclient gives up on a bad magic too).
      close(text_);
      return;
    }
    if (type == static_cast<std::uint32_t>(MessageType::Error)) {
      violation(text_);
      if (const ReaderInfo* r = find(rid); r != nullptr && r->apdu_outstanding) {
        apdu_answer(rid, nullptr, static_cast<std::uint32_t>(ErrorCode::General));
      }
      return;
    }
    send_error(reply_id, ErrorCode::General);
    text_ += "; answered Error(general)";
    violation(text_);
    return;
  }

  if (!client_init_received_ && !is_init) {
    text_ = to_string(static_cast<MessageType>(type));
    text_ += " before the client's Init";
    if (answered_with_error(type)) {
      send_error(reply_id, ErrorCode::General);
      text_ += "; answered Error(general)";
    } else {
      text_ += "; ignored";
    }
    violation(text_);
    return;
  }

  auto unknown_reader = [&](std::string_view what) {
    send_error(rid, ErrorCode::General);
    text_ = std::string(what) + " for reader id " + std::to_string(rid) +
            ", which the client never added; answered Error(general)";
    violation(text_);
  };

  const Message& m = d.message;
  std::visit(
      Overloaded{
          [&](const Init& init) {
            if (client_init_received_) {
              send_error(rid, ErrorCode::General);
              violation("second Init from the client; answered Error(general)");
              return;
            }
            Init reply;
            reply.capabilities.words[0] = kCapabilityReconnect | kCapabilityCardControl;
            send(Message{kUndefinedReaderId, reply});
            client_init_received_ = true;
            client_capabilities_ = init.capabilities;
            emit(host_event::ClientInit{init.version, init.capabilities, true,
                                        init.version != kProtocolVersion});
          },
          [&](const ReaderAdd& add) {
            // The lowest free id, as QEMU's VSCARD_MINIMAL_READER_ID is 0.
            ReaderId id = kMinimalReaderId;
            while (id < policy_.max_readers && find(id) != nullptr) ++id;
            if (id >= policy_.max_readers) {
              send_error(kUndefinedReaderId, ErrorCode::CannotAddMoreReaders);
              emit(host_event::ReaderRefused{add.name,
                                             static_cast<std::uint32_t>(ErrorCode::CannotAddMoreReaders)});
              return;
            }
            send_error(id, ErrorCode::Success);
            const ReaderInfo& r = add_reader(id, add.name);
            emit(host_event::ReaderAdded{id, r.name});
          },
          [&](const ReaderRemove&) {
            // Idempotent: libcacard's vscclient removes reader 0 after every
            // Init to clear what an unclean exit may have left in QEMU.
            send_error(rid, ErrorCode::Success);
            if (find(rid) != nullptr) {
              remove_reader(rid);
              emit(host_event::ReaderRemoved{rid});
            }
          },
          [&](const Atr& atr) {
            ReaderInfo* r = find(rid);
            if (r == nullptr) return unknown_reader("ATR");
            if (r->card_present && r->atr_outstanding) {
              // The answer to our PowerOn/WarmReset (CardControl extension).
              const bool accepted = parse_atr(atr.atr).has_value();
              send_error(rid, accepted ? ErrorCode::Success : ErrorCode::General);
              r->atr_outstanding = false;
              r->powered = accepted;
              if (accepted) r->atr.assign(atr.atr.begin(), atr.atr.end());
              emit(host_event::CardReset{rid, atr.atr, accepted});
              return;
            }
            if (r->card_present) {
              send_error(rid, ErrorCode::CardAlreadyInserted);
              violation("ATR for a reader that has a card; answered Error(card already inserted)");
              return;
            }
            const bool accepted = parse_atr(atr.atr).has_value();
            send_error(rid, accepted ? ErrorCode::Success : ErrorCode::General);
            if (accepted) {
              r->card_present = true;
              r->atr.assign(atr.atr.begin(), atr.atr.end());
            }
            emit(host_event::CardInserted{rid, atr.atr, accepted});
          },
          [&](const CardRemove&) {
            ReaderInfo* r = find(rid);
            if (r == nullptr) return unknown_reader("CardRemove");
            send_error(rid, ErrorCode::Success);
            if (r->card_present) {
              r->card_present = false;
              r->atr.clear();
              r->powered = true;
              r->atr_outstanding = false;
              emit(host_event::CardRemoved{rid});
            }
          },
          [&](const Apdu&) {
            if (find(rid) == nullptr) return unknown_reader("APDU");
            apdu_answer(rid, &m, 0);
          },
          [&](const Error& e) {
            if (find(rid) == nullptr) {
              violation("Error from the client for a reader it never added; ignored");
              return;
            }
            apdu_answer(rid, nullptr, e.code);
          },
          [&](const FlushComplete&) {
            if (!flushes_.empty()) {
              flush_complete(rid);
              return;
            }
            send_error(rid, ErrorCode::General);
            violation("FlushComplete with no Flush outstanding; answered Error(general)");
          },
          [&](const auto&) {
            // Flush, Reconnect and CardControl only travel host to client; unknown types.
            send_error(rid, ErrorCode::General);
            text_ = "message type " + std::to_string(m.type()) +
                    " is not one a host accepts; answered Error(general)";
            violation(text_);
          },
      },
      m.body);
}

}  // namespace vscard
