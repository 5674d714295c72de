// SPDX-License-Identifier: LGPL-2.1-or-later
#include "vscard/protocol.h"

namespace vscard {

std::string_view to_string(MessageType type) {
  switch (type) {
    case MessageType::Init: return "Init";
    case MessageType::Error: return "Error";
    case MessageType::ReaderAdd: return "ReaderAdd";
    case MessageType::ReaderRemove: return "ReaderRemove";
    case MessageType::Atr: return "ATR";
    case MessageType::CardRemove: return "CardRemove";
    case MessageType::Apdu: return "APDU";
    case MessageType::Flush: return "Flush";
    case MessageType::FlushComplete: return "FlushComplete";
    case MessageType::Reconnect: return "Reconnect";
    case MessageType::CardControl: return "CardControl";
  }
  return "Unknown";
}

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::Success: return "success";
    case ErrorCode::General: return "general error";
    case ErrorCode::CannotAddMoreReaders: return "cannot add more readers";
    case ErrorCode::CardAlreadyInserted: return "card already inserted";
  }
  return "unknown error code";
}

std::string_view to_string(CardControlEvent event) {
  switch (event) {
    case CardControlEvent::PowerOff: return "power off";
    case CardControlEvent::PowerOn: return "power on";
    case CardControlEvent::WarmReset: return "warm reset";
    case CardControlEvent::ReaderInUse: return "reader in use";
    case CardControlEvent::ReaderNotInUse: return "reader not in use";
    case CardControlEvent::ReaderExclusive: return "reader exclusive";
  }
  return "unknown event";
}

}  // namespace vscard
