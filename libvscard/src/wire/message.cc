// SPDX-License-Identifier: LGPL-2.1-or-later
// Encoder: one message to its wire bytes (docs/protocol.md has the layouts).
#include <cstring>

#include "vscard/message.h"
#include "wire/byte_order.h"
#include "vscard/overloaded.h"

namespace vscard {
namespace {

constexpr std::uint32_t raw(MessageType t) { return static_cast<std::uint32_t>(t); }

// A Reconnect field must fit with its NUL terminator and hold no NUL itself.
bool fits_reconnect_field(std::string_view s) {
  return s.size() < kReconnectFieldSize && s.find('\0') == std::string_view::npos;
}

void append_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  std::uint8_t b[4];
  wire::store_be32(b, v);
  out.insert(out.end(), b, b + 4);
}

void append_bytes(std::vector<std::uint8_t>& out, const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  out.insert(out.end(), p, p + size);
}

void append_field(std::vector<std::uint8_t>& out, std::string_view s) {
  append_bytes(out, s.data(), s.size());
  out.insert(out.end(), kReconnectFieldSize - s.size(), 0);
}

}  // namespace

std::uint32_t Message::type() const {
  return std::visit(
      Overloaded{
          [](const Init&) { return raw(MessageType::Init); },
          [](const Error&) { return raw(MessageType::Error); },
          [](const ReaderAdd&) { return raw(MessageType::ReaderAdd); },
          [](const ReaderRemove&) { return raw(MessageType::ReaderRemove); },
          [](const Atr&) { return raw(MessageType::Atr); },
          [](const CardRemove&) { return raw(MessageType::CardRemove); },
          [](const Apdu&) { return raw(MessageType::Apdu); },
          [](const Flush&) { return raw(MessageType::Flush); },
          [](const FlushComplete&) { return raw(MessageType::FlushComplete); },
          [](const Reconnect&) { return raw(MessageType::Reconnect); },
          [](const CardControl&) { return raw(MessageType::CardControl); },
          [](const Unknown& u) { return u.type; },
      },
      body);
}

std::size_t payload_size(const Message& message) {
  return std::visit(
      Overloaded{
          [](const Init& m) -> std::size_t {
            std::size_t words = m.capabilities.count;
            if (words > Capabilities::kMaxCapabilityWords) words = Capabilities::kMaxCapabilityWords;
            return 8 + 4 * words;
          },
          [](const Error&) -> std::size_t { return 4; },
          [](const CardControl&) -> std::size_t { return 4; },
          [](const ReaderAdd& m) -> std::size_t { return m.name.size(); },
          [](const Atr& m) -> std::size_t { return m.atr.size(); },
          [](const Apdu& m) -> std::size_t { return m.data.size(); },
          [](const Reconnect&) -> std::size_t { return 2 * kReconnectFieldSize; },
          [](const Unknown& m) -> std::size_t { return m.payload.size(); },
          [](const auto&) -> std::size_t { return 0; },
      },
      message.body);
}

bool encode(const Message& message, std::vector<std::uint8_t>& out,
            std::size_t max_message_size) {
  const std::size_t length = payload_size(message);
  if (length > max_message_size || kHeaderSize + length > max_message_size) return false;
  if (const auto* r = std::get_if<Reconnect>(&message.body)) {
    if (!fits_reconnect_field(r->host) || !fits_reconnect_field(r->port)) return false;
  }

  append_be32(out, message.type());
  append_be32(out, message.reader_id);
  append_be32(out, static_cast<std::uint32_t>(length));
  std::visit(
      Overloaded{
          [&](const Init& m) {
            // The magic goes out as the bytes V S C D whatever the host byte order.
            append_be32(out, m.magic);
            append_be32(out, m.version);
            for (std::size_t i = 0; i < (length - 8) / 4; ++i) {
              append_be32(out, m.capabilities.words[i]);
            }
          },
          [&](const Error& m) { append_be32(out, m.code); },
          [&](const CardControl& m) { append_be32(out, m.code); },
          [&](const ReaderAdd& m) { append_bytes(out, m.name.data(), m.name.size()); },
          [&](const Atr& m) { append_bytes(out, m.atr.data(), m.atr.size()); },
          [&](const Apdu& m) { append_bytes(out, m.data.data(), m.data.size()); },
          [&](const Reconnect& m) {
            append_field(out, m.host);
            append_field(out, m.port);
          },
          [&](const Unknown& m) { append_bytes(out, m.payload.data(), m.payload.size()); },
          [](const auto&) {},
      },
      message.body);
  return true;
}

}  // namespace vscard
