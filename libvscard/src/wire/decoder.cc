// SPDX-License-Identifier: LGPL-2.1-or-later
// Incremental decoder (see vscard/decoder.h for the contract).
#include "vscard/decoder.h"

#include <algorithm>
#include <optional>

#include "wire/byte_order.h"
#include "wire/utf8.h"

namespace vscard {
namespace {

// Inlined on purpose: returned out of line, the 12-byte struct went through the
// stack with two narrow stores and one wide load, a store-forwarding stall that
// cost a third of the header-only decode time (tests/bench/wire_bench.cc).
[[gnu::always_inline]] inline DecodedHeader read_header(const std::uint8_t* p) {
  return {wire::load_be32(p), wire::load_be32(p + 4), wire::load_be32(p + 8)};
}

void set_malformed(Decoded& d, DecodeError error) {
  d.status = DecodeStatus::Malformed;
  d.error = error;
}

// A Reconnect field: the text before the first NUL; nullopt if there is none.
std::optional<std::string_view> reconnect_field(Bytes field) {
  auto nul = std::find(field.begin(), field.end(), std::uint8_t{0});
  if (nul == field.end()) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(field.data()),
                          static_cast<std::size_t>(nul - field.begin()));
}

// Fills `d` (whose status and header the caller has set) from one whole
// message's payload. Writing into the caller's object, rather than returning a
// fresh Decoded from several places, lets the compiler build the result in its
// final place: copying it out cost another store-forwarding stall per message.
void parse_payload(const DecodedHeader& header, Bytes payload, Decoded& d) {
  d.message.reader_id = header.reader_id;
  const char* text = reinterpret_cast<const char*>(payload.data());

  switch (header.type) {
    case static_cast<std::uint32_t>(MessageType::Init): {
      if (payload.size() < 12) return set_malformed(d, DecodeError::InitTooShort);
      if (payload.size() % 4 != 0) return set_malformed(d, DecodeError::InitBadLength);
      Init init;
      init.magic = wire::load_be32(payload.data());
      if (init.magic != kMagic) return set_malformed(d, DecodeError::BadMagic);
      init.version = wire::load_be32(payload.data() + 4);
      const std::size_t words = (payload.size() - 8) / 4;
      init.capabilities.count = static_cast<std::uint32_t>(words);
      for (std::size_t i = 0; i < words && i < Capabilities::kMaxCapabilityWords; ++i) {
        init.capabilities.words[i] = wire::load_be32(payload.data() + 8 + 4 * i);
      }
      d.message.body = init;
      return;
    }
    case static_cast<std::uint32_t>(MessageType::Error):
      if (payload.size() != 4) return set_malformed(d, DecodeError::ErrorBadLength);
      d.message.body = Error{wire::load_be32(payload.data())};
      return;
    case static_cast<std::uint32_t>(MessageType::ReaderAdd): {
      std::string_view name(text, payload.size());
      if (!name.empty() && name.back() == '\0') name.remove_suffix(1);
      if (!wire::is_valid_utf8(name)) return set_malformed(d, DecodeError::ReaderNameNotUtf8);
      d.message.body = ReaderAdd{name};
      return;
    }
    case static_cast<std::uint32_t>(MessageType::ReaderRemove):
      d.message.body = ReaderRemove{};
      return;
    case static_cast<std::uint32_t>(MessageType::Atr):
      d.message.body = Atr{payload};
      return;
    case static_cast<std::uint32_t>(MessageType::CardRemove):
      d.message.body = CardRemove{};
      return;
    case static_cast<std::uint32_t>(MessageType::Apdu):
      d.message.body = Apdu{payload};
      return;
    case static_cast<std::uint32_t>(MessageType::Flush):
      d.message.body = Flush{};
      return;
    case static_cast<std::uint32_t>(MessageType::FlushComplete):
      d.message.body = FlushComplete{};
      return;
    case static_cast<std::uint32_t>(MessageType::Reconnect): {
      if (payload.size() != 2 * kReconnectFieldSize) {
        return set_malformed(d, DecodeError::ReconnectBadLength);
      }
      auto host = reconnect_field(payload.first(kReconnectFieldSize));
      auto port = reconnect_field(payload.subspan(kReconnectFieldSize));
      if (!host || !port) return set_malformed(d, DecodeError::ReconnectNotTerminated);
      d.message.body = Reconnect{*host, *port};
      return;
    }
    case static_cast<std::uint32_t>(MessageType::CardControl):
      if (payload.size() != 4) return set_malformed(d, DecodeError::CardControlBadLength);
      d.message.body = CardControl{wire::load_be32(payload.data())};
      return;
    default:
      d.message.body = Unknown{header.type, payload};
      return;
  }
}

// One named result returned from one place, so it is constructed in the caller's
// slot (NRVO) and never copied.
Decoded decode_whole(const DecodedHeader& header, Bytes payload) {
  Decoded d;
  d.status = DecodeStatus::Message;
  d.header = header;
  parse_payload(header, payload, d);
  return d;
}

}  // namespace

std::string_view to_string(DecodeError error) {
  switch (error) {
    case DecodeError::None: return "no error";
    case DecodeError::MessageTooLarge: return "message length exceeds the limit";
    case DecodeError::InitTooShort: return "Init shorter than magic, version and one capability word";
    case DecodeError::InitBadLength: return "Init length is not a whole number of 32-bit words";
    case DecodeError::BadMagic: return "Init magic is not VSCD";
    case DecodeError::ErrorBadLength: return "Error payload is not 4 bytes";
    case DecodeError::ReaderNameNotUtf8: return "ReaderAdd name is not valid UTF-8";
    case DecodeError::ReconnectBadLength: return "Reconnect payload is not two 128-byte fields";
    case DecodeError::ReconnectNotTerminated: return "Reconnect field is not NUL-terminated";
    case DecodeError::CardControlBadLength: return "CardControl payload is not 4 bytes";
  }
  return "unknown decode error";
}

Decoder::Decoder(std::size_t max_message_size)
    : max_message_size_(std::max(max_message_size, kHeaderSize)) {}

void Decoder::reset() {
  buffer_.clear();
  fatal_ = DecodeError::None;
  fatal_header_ = {};
}

Decoded Decoder::next(Bytes& input) {
  if (fatal_ != DecodeError::None) {
    Decoded d;
    d.status = DecodeStatus::Fatal;
    d.error = fatal_;
    d.header = fatal_header_;
    return d;
  }
  // The previous call may have returned a message held in buffer_: its views
  // expired with this call, so the buffer can be reused.
  if (buffer_.size() >= kHeaderSize &&
      buffer_.size() == kHeaderSize + read_header(buffer_.data()).length) {
    buffer_.clear();
  }

  auto too_large = [&](const DecodedHeader& header) {
    fatal_ = DecodeError::MessageTooLarge;
    fatal_header_ = header;
    buffer_.clear();
    return next(input);
  };

  // Fast path: a whole message at the front of the input is parsed in place.
  if (buffer_.empty() && input.size() >= kHeaderSize) {
    const DecodedHeader header = read_header(input.data());
    if (header.length > max_message_size_ - kHeaderSize) return too_large(header);
    const std::size_t total = kHeaderSize + header.length;
    if (input.size() >= total) {
      Bytes payload = input.subspan(kHeaderSize, header.length);
      input = input.subspan(total);
      return decode_whole(header, payload);
    }
  }

  // Slow path: gather the header, then the payload, into buffer_.
  while (!input.empty()) {
    if (buffer_.size() < kHeaderSize) {
      const std::size_t take = std::min(kHeaderSize - buffer_.size(), input.size());
      buffer_.insert(buffer_.end(), input.begin(), input.begin() + take);
      input = input.subspan(take);
      if (buffer_.size() < kHeaderSize) break;
      const DecodedHeader header = read_header(buffer_.data());
      // Refuse from the header alone, before buffering a byte of the payload.
      if (header.length > max_message_size_ - kHeaderSize) return too_large(header);
      buffer_.reserve(kHeaderSize + header.length);
    }
    const DecodedHeader header = read_header(buffer_.data());
    const std::size_t total = kHeaderSize + header.length;
    const std::size_t take = std::min(total - buffer_.size(), input.size());
    buffer_.insert(buffer_.end(), input.begin(), input.begin() + take);
    input = input.subspan(take);
    if (buffer_.size() == total) {
      return decode_whole(header, Bytes(buffer_).subspan(kHeaderSize));
    }
  }
  return Decoded{};
}

}  // namespace vscard
