// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient's connection to the host (see uplink.h).
#include "uplink.h"

#include <utility>

#include "log.h"
#include "plaintext_warning.h"
#include "vscard/glib_ptr.h"
#include "vscard/tls.h"
#include "vscard/transport_error.h"

namespace vscclient {
namespace {

// How long the exit sequence waits for CardRemove/ReaderRemove to reach the host.
constexpr guint kExitFlushSeconds = 3;
// The Reconnect extension: attempts at the new address before staying put.
constexpr unsigned kMoveAttempts = 3;
// While the host stays away: one warning, then a reminder this often.
constexpr std::chrono::seconds kReminderEvery{300};

// What the user can do about a connect failure, for the failures vscclient
// can name; "" otherwise.
std::string fix_for(const GError* error, const std::string& creds) {
  if (error == nullptr || error->domain != VSCARD_TRANSPORT_ERROR) return "";
  switch (static_cast<vscard::TransportError>(error->code)) {
    case vscard::TransportError::TlsUnknownCa:
      return "put the CA that signed the host's certificate into " + creds + "/ca-cert.pem";
    case vscard::TransportError::TlsNameMismatch:
      return "connect by the name the host's certificate carries, or give it with --tls-hostname";
    case vscard::TransportError::TlsExpired:
      return "the host needs a certificate valid now (or a clock is wrong)";
    case vscard::TransportError::TlsRevoked:
    case vscard::TransportError::TlsBadCertificate:
      return "the host needs a certificate that " + creds + "/ca-cert.pem vouches for";
    case vscard::TransportError::TlsNoClientCertificate:
      return "the host wants a client certificate: put client-cert.pem and client-key.pem, "
             "signed by a CA the host trusts, into " + creds;
    case vscard::TransportError::TlsNoAnswer:
      return "if the host does not use TLS, drop --tls-creds; or turn TLS on at the host "
             "(QEMU: tls-creds on the chardev, vschost: --tls-creds)";
    default:
      return "";
  }
}

std::string seconds_text(std::chrono::milliseconds d) {
  char text[32];
  g_snprintf(text, sizeof text, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return text;
}

}  // namespace

std::unique_ptr<Uplink> Uplink::create(const Options& options, vscard::ClientSession& session,
                                       Handlers handlers, std::string* error) {
  vscard::Connector::Options o;
  o.address = options.address;
  if (options.tls_creds) {
    vscard::GErrorPtr failure;
    auto credentials = vscard::TlsCredentials::load(
        *options.tls_creds, vscard::TlsCredentials::Endpoint::Client, failure.out());
    if (!credentials) {
      *error = failure.message();  // "TLS credentials: DIR/ca-cert.pem: ..."
      return nullptr;
    }
    o.tls = vscard::TlsClientOptions{credentials, options.tls_hostname.value_or("")};
  }
  o.connection.keepalive = options.keepalive;
  o.backoff.max = options.reconnect_max_delay;
  if (o.backoff.initial > o.backoff.max) o.backoff.initial = o.backoff.max;
  o.max_attempts = options.reconnect ? 0 : 1;
  return std::make_unique<Uplink>(options, std::move(o), session, std::move(handlers));
}

Uplink::Uplink(const Options& options, vscard::Connector::Options connector,
               vscard::ClientSession& session, Handlers handlers)
    : session_(session),
      handlers_(std::move(handlers)),
      one_session_(!options.reconnect || options.once),
      tls_creds_(options.tls_creds.value_or("the --tls-creds directory")),
      connector_options_(std::move(connector)),
      streak_(kReminderEvery),
      poster_(g_main_context_default()) {}

Uplink::~Uplink() {
  link_.reset();
  connection_.reset();
  moving_to_.reset();
  connector_.reset();
  if (shut_down_timeout_ != 0) g_source_remove(shut_down_timeout_);
}

void Uplink::start() {
  const vscard::Address& address = connector_options_.address;
  if (needs_plaintext_warning(address, connector_options_.tls.has_value())) {
    g_warning("the connection to %s is not encrypted: card PINs and everything the card "
              "says cross the network in the clear. Use --tls-creds DIR (with QEMU: "
              "-object tls-creds-x509,id=tls0,dir=DIR,endpoint=server and tls-creds=tls0 "
              "on the chardev) to encrypt it; see docs/tls.md",
              address.to_string().c_str());
  }
  connector_ = dial(address);
  connector_->start();
}

// The one Connector for "the host": the first one, and again after a move.
std::unique_ptr<vscard::Connector> Uplink::dial(const vscard::Address& address) {
  connector_options_.address = address;
  return std::make_unique<vscard::Connector>(
      connector_options_,
      [this](std::unique_ptr<vscard::Connection> c) { connected(std::move(c)); },
      [this](const GError* e, std::optional<std::chrono::milliseconds> retry) {
        connect_failed(e, retry);
      });
}

void Uplink::connected(std::unique_ptr<vscard::Connection> connection) {
  link_.reset();
  connection_ = std::move(connection);
  peer_ = connection_->peer();
  connection_tls_ = connection_->is_tls();
  // Within a failure streak the line waits for the host's Init
  // (session_established): a host that accepts and drops us is no recovery.
  if (streak_.failures() == 0) {
    g_message("connected to %s%s", peer_.c_str(), connection_tls_ ? " (TLS)" : "");
  }
  // A new host knows nothing: Init again, then every reader and card again.
  session_.restart();
  handlers_.connected();
  link_ = std::make_unique<vscard::SessionLink<vscard::ClientSession>>(
      session_, *connection_, [this](const vscard::CloseReason& reason) { closed(reason); });
}

void Uplink::connect_failed(const GError* error,
                            std::optional<std::chrono::milliseconds> retry_in) {
  if (shut_down_done_) return;
  const std::string fix = fix_for(error, tls_creds_);
  if (vscard::transport_error_is_permanent(error)) {
    print_error(std::string(error->message) + "; not retrying: " +
                (fix.empty() ? "this will not fix itself" : fix));
    connector_->stop();
    handlers_.ended(ExitCause::Refused);
    return;
  }
  const std::string message = error->message + (fix.empty() ? "" : "; " + fix);
  if (!retry_in) {
    print_error(message);
    handlers_.ended(ExitCause::CannotConnect);
    return;
  }
  const auto now = FailureStreak::Clock::now();
  switch (streak_.failed(now)) {
    case FailureStreak::Say::Warning:
      g_warning("%s; retrying (next in %s; quiet until it works, with a reminder every %lld "
                "minutes)",
                message.c_str(), seconds_text(*retry_in).c_str(),
                static_cast<long long>(kReminderEvery.count() / 60));
      break;
    case FailureStreak::Say::Reminder:
      g_warning("still retrying after %u attempts in %s: %s", streak_.failures(),
                seconds_text(streak_.lasted(now)).c_str(), message.c_str());
      break;
    case FailureStreak::Say::Nothing:
      g_debug("%s; retrying in %s", error->message, seconds_text(*retry_in).c_str());
      break;
  }
}

void Uplink::session_established() {
  // A session that worked, however short (vschost --once in CI), says the
  // host is healthy: its loss retries after the initial delay, not after a
  // delay that grew over earlier sessions.
  if (connector_) connector_->session_established();
  auto recovery = streak_.succeeded(FailureStreak::Clock::now());
  if (!recovery) return;
  g_message("connected to %s%s again, after %u failed attempt%s in %s", peer_.c_str(),
            connection_tls_ ? " (TLS)" : "", recovery->failures,
            recovery->failures == 1 ? "" : "s", seconds_text(recovery->lasted).c_str());
}

void Uplink::closed(const vscard::CloseReason& reason) {
  link_.reset();
  connection_.reset();
  if (shut_down_done_) {
    finish_shut_down();
    return;
  }
  std::string why = reason.message;
  if (!session_.host_init_received()) {
    if (connection_tls_) {
      // With TLS 1.3 a host that refuses our client certificate (QEMU's
      // verify-peer=on, vschost --tls-creds) does so after our side of the
      // handshake has completed: all we see is the connection closing before
      // the host's Init. Retrying would be refused the same way.
      print_error("the host " + peer_ + " ended the TLS connection before the VSCard "
                  "handshake (" + why + "): it refused our client certificate; not retrying: "
                  "put client-cert.pem and client-key.pem, signed by a CA the host trusts, into " +
                  tls_creds_);
      connector_->stop();
      handlers_.ended(ExitCause::Refused);
      return;
    }
    // A TLS host reads our plaintext Init as a broken TLS hello and closes.
    why += "; a host that expects TLS does this to a plaintext client: if it does (QEMU: "
           "tls-creds on the chardev, vschost: --tls-creds), add --tls-creds DIR";
  }
  if (one_session_) {
    // One session only. Like libcacard's vscclient, a host that ends the
    // session in order (end of stream after its Init) is a success; a broken
    // connection, or one that ends before the handshake, is not.
    if (reason.kind == vscard::CloseReason::Kind::PeerClosed && session_.host_init_received()) {
      g_message("the host %s ended the session", peer_.c_str());
      handlers_.ended(ExitCause::HostEndedSession);
      return;
    }
    print_error("connection to " + peer_ + " ended: " + why);
    handlers_.ended(ExitCause::SessionBroke);
    return;
  }
  // A lost session starts a streak (or goes on with one: a host that
  // accepts and drops us is not said again at every attempt).
  const auto say = streak_.failed(FailureStreak::Clock::now());
  const std::string delay = seconds_text(connector_->reconnect());
  if (say == FailureStreak::Say::Warning) {
    g_warning("connection to %s ended: %s; reconnecting in %s (quiet until it works)",
              peer_.c_str(), why.c_str(), delay.c_str());
  } else {
    g_debug("connection to %s ended: %s; reconnecting in %s", peer_.c_str(), why.c_str(),
            delay.c_str());
  }
}

void Uplink::move_to(std::string_view host, std::string_view port) {
  vscard::GErrorPtr error;
  auto address = vscard::Address::from_host_port(host, port, error.out());
  if (!address) {
    g_warning("ignoring the host's Reconnect request: %s", error.message());
    return;
  }
  g_message("host asks us to move to %s", address->to_string().c_str());
  vscard::Connector::Options o = connector_options_;
  o.address = *address;
  o.max_attempts = kMoveAttempts;
  moving_to_ = std::make_unique<vscard::Connector>(
      o,
      [this, target = *address](std::unique_ptr<vscard::Connection> c) {
        // Connected to the new host: only now drop the old one, and make the
        // new address the one to come back to after a loss.
        g_message("moved to %s", target.to_string().c_str());
        connector_ = dial(target);
        connected(std::move(c));
        poster_.post([this] { moving_to_.reset(); });
      },
      [this, target = *address](const GError* e, std::optional<std::chrono::milliseconds> retry) {
        if (retry) return;
        g_warning("cannot move to %s (%s); staying with %s", target.to_string().c_str(),
                  e->message, peer_.c_str());
        poster_.post([this] { moving_to_.reset(); });
      });
  moving_to_->start();
}

void Uplink::shut_down(std::function<void()> done) {
  if (shut_down_done_) return;
  shut_down_done_ = std::move(done);
  if (moving_to_) moving_to_->stop();
  if (connector_) connector_->stop();
  if (!connection_ || !connection_->is_open()) {
    finish_shut_down();
    return;
  }
  connection_->close_after_flush();  // closed() finishes
  shut_down_timeout_ = g_timeout_add_seconds(
      kExitFlushSeconds,
      [](gpointer self) -> gboolean {
        auto* uplink = static_cast<Uplink*>(self);
        uplink->shut_down_timeout_ = 0;
        g_warning("the host did not take the last messages within %u s", kExitFlushSeconds);
        uplink->finish_shut_down();
        return G_SOURCE_REMOVE;
      },
      this);
}

void Uplink::finish_shut_down() {
  if (shut_down_timeout_ != 0) {
    g_source_remove(shut_down_timeout_);
    shut_down_timeout_ = 0;
  }
  if (shut_down_done_) shut_down_done_();
}

}  // namespace vscclient
