// SPDX-License-Identifier: LGPL-2.1-or-later
// Address parsing and formatting (see vscard/address.h).
#include "vscard/address.h"

#include "vscard/decimal.h"
#include "vscard/transport_error.h"

namespace vscard {
namespace {

constexpr std::string_view kUnixPrefix = "unix:";

bool fail(GError** error, std::string_view text, const char* why) {
  g_set_error(error, VSCARD_TRANSPORT_ERROR, static_cast<int>(TransportError::InvalidAddress),
              "invalid address '%.*s': %s", static_cast<int>(text.size()), text.data(), why);
  return false;
}

bool parse_port(std::string_view text, std::string_view port, std::uint16_t& out, GError** error) {
  if (port.empty()) return fail(error, text, "missing port (write HOST:PORT, [IPV6]:PORT or unix:PATH)");
  const auto value = parse_decimal<std::uint16_t>(port);
  if (!value) return fail(error, text, "the port must be a number from 0 to 65535");
  out = *value;
  return true;
}

bool parse_host(std::string_view text, std::string_view host, std::string& out, GError** error) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.find_first_of(" /[]") != std::string_view::npos)
    return fail(error, text, "the host contains a character not allowed in a host name");
  out.assign(host);
  return true;
}

}  // namespace

std::optional<Address> Address::parse(std::string_view text, GError** error) {
  if (text.starts_with(kUnixPrefix)) {
    const std::string_view path = text.substr(kUnixPrefix.size());
    if (path.empty()) {
      fail(error, text, "missing socket path after 'unix:'");
      return std::nullopt;
    }
    return unix_path(std::string(path));
  }
  Address address;
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      fail(error, text, "missing ']' after the IPv6 address");
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(':')) {
      fail(error, text, "expected ':PORT' after ']'");
      return std::nullopt;
    }
    port = rest.substr(1);
    if (host.empty()) {
      fail(error, text, "empty IPv6 address between the brackets");
      return std::nullopt;
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      fail(error, text, "missing port (write HOST:PORT, [IPV6]:PORT or unix:PATH)");
      return std::nullopt;
    }
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      fail(error, text, "an IPv6 address needs brackets, e.g. [::1]:2001");
      return std::nullopt;
    }
    port = text.substr(colon + 1);
  }
  if (!parse_host(text, host, address.host, error) || !parse_port(text, port, address.port, error))
    return std::nullopt;
  return address;
}

std::optional<Address> Address::from_host_port(std::string_view host, std::string_view port,
                                               GError** error) {
  if (host.starts_with(kUnixPrefix)) {
    if (!port.empty()) {
      fail(error, host, "a unix: address takes no port");
      return std::nullopt;
    }
    return parse(host, error);
  }
  if (host.empty()) {
    fail(error, host, "empty host");
    return std::nullopt;
  }
  Address address;
  if (!parse_host(host, host, address.host, error) || !parse_port(port, port, address.port, error))
    return std::nullopt;
  return address;
}

std::string Address::to_string() const {
  if (kind == Kind::Unix) return std::string(kUnixPrefix) + path;
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace vscard
