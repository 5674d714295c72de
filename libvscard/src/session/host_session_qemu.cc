// SPDX-License-Identifier: LGPL-2.1-or-later
// HostPolicy::Qemu: answers exactly as QEMU 7.2's ccid-card-passthru does
// (session/qemu_policy.h lists the measured facts). QEMU has one reader, id 0,
// whatever reader_id the client puts in its messages; the replies echo the
// client's reader_id where QEMU does.
#include <string>

#include "session/qemu_policy.h"
#include "vscard/atr.h"
#include "session/host_session_impl.h"
#include "vscard/overloaded.h"

namespace vscard {

namespace {
Message qemu_init() { return Message{kUndefinedReaderId, Init{}}; }
}  // namespace

void HostSession::Impl::handle_qemu(const Decoded& d) {
  const ReaderId rid = d.header.reader_id;
  constexpr ReaderId kOnly = kMinimalReaderId;

  if (d.status == DecodeStatus::Malformed) {
    switch (static_cast<MessageType>(d.header.type)) {
      case MessageType::Init: {
        // QEMU logs "wrong magic" (or reads past a short payload) and answers.
        send(qemu_init());
        const bool first = !client_init_received_;
        client_init_received_ = true;
        text_ = "malformed Init from the client (";
        text_ += to_string(d.error);
        text_ += "); answered with Init as QEMU does";
        violation(text_);
        if (first) {
          host_event::ClientInit init;
          init.magic_ok = d.error != DecodeError::BadMagic;
          init.version = 0;
          emit(init);
        }
        return;
      }
      case MessageType::Error:
        // QEMU passes whatever 4 bytes follow to the guest as the error code.
        violation("Error from the client with a payload that is not 4 bytes");
        if (const ReaderInfo* r = find(kOnly); r != nullptr && r->apdu_outstanding) {
          apdu_answer(kOnly, nullptr, static_cast<std::uint32_t>(ErrorCode::General));
        }
        return;
      case MessageType::ReaderAdd:
        // QEMU ignores the payload: a name that is not UTF-8 changes nothing.
        violation("ReaderAdd name is not UTF-8; accepted as QEMU does");
        send_error(kOnly, ErrorCode::Success);
        if (!find(kOnly)) {
          add_reader(kOnly, "");
          emit(host_event::ReaderAdded{kOnly, ""});
        }
        return;
      default:
        // Reconnect is not a type QEMU knows.
        send_error(rid, ErrorCode::General);
        violation("malformed message of a type QEMU does not handle; answered Error(general)");
        return;
    }
  }

  const Message& m = d.message;
  std::visit(
      Overloaded{
          [&](const Init& init) {
            send(qemu_init());
            if (client_init_received_) violation("second Init from the client; answered again as QEMU does");
            const bool first = !client_init_received_;
            client_init_received_ = true;
            client_capabilities_ = init.capabilities;
            if (first) {
              emit(host_event::ClientInit{init.version, init.capabilities, true,
                                          init.version != kProtocolVersion});
            }
          },
          [&](const ReaderAdd& add) {
            send_error(kOnly, ErrorCode::Success);
            if (find(kOnly)) {
              violation("second ReaderAdd: QEMU answers it with reader id 0 again");
              return;
            }
            add_reader(kOnly, add.name);
            emit(host_event::ReaderAdded{kOnly, add.name});
          },
          [&](const ReaderRemove&) {
            send_error(rid, ErrorCode::Success);
            if (find(kOnly)) {
              remove_reader(kOnly);
              emit(host_event::ReaderRemoved{kOnly});
            }
          },
          [&](const Atr& atr) {
            const bool accepted = qemu_accepts_atr(atr.atr);
            send_error(rid, accepted ? ErrorCode::Success : ErrorCode::General);
            ReaderInfo* r = find(kOnly);
            if (r == nullptr) {
              // QEMU has no reader state: the card simply appears.
              violation("ATR before ReaderAdd; handled as QEMU does");
              r = &add_reader(kOnly, "");
            }
            if (accepted) {
              r->card_present = true;
              r->atr.assign(atr.atr.begin(), atr.atr.end());
            }
            emit(host_event::CardInserted{kOnly, atr.atr, accepted});
          },
          [&](const CardRemove&) {
            send_error(rid, ErrorCode::Success);
            ReaderInfo* r = find(kOnly);
            if (r != nullptr && r->card_present) {
              r->card_present = false;
              r->atr.clear();
              emit(host_event::CardRemoved{kOnly});
            }
          },
          [&](const Apdu&) { apdu_answer(kOnly, &m, 0); },
          [&](const Error& e) { apdu_answer(kOnly, nullptr, e.code); },
          [&](const FlushComplete&) {
            // QEMU never sends Flush; a vschost program may. Only an unasked
            // FlushComplete gets QEMU's answer to types it does not handle.
            if (!flushes_.empty()) {
              flush_complete(rid);
              return;
            }
            send_error(rid, ErrorCode::General);
            violation("FlushComplete with no Flush outstanding; answered Error(general) as QEMU does");
          },
          [&](const auto&) {
            // Flush, Reconnect and unknown types.
            send_error(rid, ErrorCode::General);
            text_ = "message type " + std::to_string(m.type()) +
                    " is not handled by QEMU's passthru; answered Error(general)";
            violation(text_);
          },
      },
      m.body);
}

}  // namespace vscard
