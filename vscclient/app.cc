// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient's main loop (see app.h).
#include "app.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <utility>

#include "cacard_source.h"
#include "pcsc_source.h"
#include "commands.h"
#include "emul_args.h"
#include "log.h"
#include "plaintext_warning.h"
#include "soft_card.h"
#include "vicc_source.h"
#include "vscard/address.h"
#include "vscard/printable.h"
#include "vscard/keepalive.h"
#include "vscard/tls.h"

namespace vscclient {
namespace {

using GErrorPtr = std::unique_ptr<GError, decltype(&g_error_free)>;

// How long `exit` waits for CardRemove/ReaderRemove to reach the host.
constexpr guint kExitFlushSeconds = 3;
// The Reconnect extension: attempts at the new address before staying put.
constexpr unsigned kMoveAttempts = 3;

void print_error(const std::string& text) {
  g_printerr("vscclient: %s\n", vscard::printable(text).c_str());
}

}  // namespace

App::App(Options options)
    : options_(std::move(options)),
      session_(vscard::ClientSession::Options{},
               [this](const vscard::ClientEvent& event) { session_event(event); }),
      bridge_(session_,
              Bridge::Options{vscard::kDefaultMaxMessageSize, options_.trace,
                              options_.trace_unredacted, options_.pin_guard,
                              {options_.t0, options_.shaping}}),
      poster_(g_main_context_default()) {}

App::~App() {
  link_.reset();
  connection_.reset();
  moving_to_.reset();
  connector_.reset();
  for (auto& source : sources_) source->stop();
  sources_.clear();
  for (guint id : signal_watches_) g_source_remove(id);
  if (stdin_watch_ != 0) g_source_remove(stdin_watch_);
  if (exit_timeout_ != 0) g_source_remove(exit_timeout_);
  if (stdin_ != nullptr) g_io_channel_unref(stdin_);
  if (loop_ != nullptr) g_main_loop_unref(loop_);
}

int App::run() {
  std::signal(SIGPIPE, SIG_IGN);
  loop_ = g_main_loop_new(nullptr, FALSE);

  GError* raw = nullptr;
  std::optional<vscard::Address> address =
      options_.unix_path ? std::optional(vscard::Address::unix_path(*options_.unix_path))
                         : vscard::Address::from_host_port(options_.host, options_.port, &raw);
  if (!address) {
    GErrorPtr error(raw, g_error_free);
    print_error(error->message);
    return kExitUsage;
  }
  std::string error;
  if (!make_connector(*address, &error)) {
    print_error(error);
    return error.starts_with("TLS") ? kExitFailure : kExitUsage;
  }
  if (!start_sources()) return kExitFailure;
  warn_if_plaintext(*address);

  stdin_ = g_io_channel_unix_new(STDIN_FILENO);
  g_io_channel_set_flags(stdin_, G_IO_FLAG_NONBLOCK, nullptr);
  stdin_watch_ = g_io_add_watch(stdin_, GIOCondition(G_IO_IN | G_IO_HUP | G_IO_ERR), on_stdin, this);
  for (int signal : {SIGINT, SIGTERM}) {
    signal_watches_.push_back(g_unix_signal_add(
        signal,
        [](gpointer self) -> gboolean {
          static_cast<App*>(self)->begin_exit(kExitOk);
          return G_SOURCE_CONTINUE;
        },
        this));
  }
  if (isatty(STDIN_FILENO)) {
    std::fputs("> ", stdout);
    std::fflush(stdout);
  }
  connector_->start();
  g_main_loop_run(loop_);
  return status_;
}

bool App::make_connector(const vscard::Address& address, std::string* error) {
  vscard::Connector::Options o;
  o.address = address;
  if (options_.tls_creds) {
    GError* raw = nullptr;
    auto credentials = vscard::TlsCredentials::load(
        *options_.tls_creds, vscard::TlsCredentials::Endpoint::Client, &raw);
    if (!credentials) {
      GErrorPtr e(raw, g_error_free);
      *error = e->message;  // "TLS credentials: DIR/ca-cert.pem: ..."
      return false;
    }
    o.tls = vscard::TlsClientOptions{credentials, options_.tls_hostname.value_or("")};
  }
  if (options_.keepalive) {
    GError* raw = nullptr;
    auto keepalive = vscard::Keepalive::parse(*options_.keepalive, &raw);
    if (!keepalive) {
      GErrorPtr e(raw, g_error_free);
      *error = std::string("--keepalive: ") + e->message;
      return false;
    }
    o.connection.keepalive = *keepalive;
  }
  o.backoff.max = options_.reconnect_max_delay;
  if (o.backoff.initial > o.backoff.max) o.backoff.initial = o.backoff.max;
  o.max_attempts = options_.reconnect ? 0 : 1;
  connector_options_ = o;
  connector_ = std::make_unique<vscard::Connector>(
      connector_options_,
      [this](std::unique_ptr<vscard::Connection> c) { connected(std::move(c)); },
      [this](const GError* e, std::optional<std::chrono::milliseconds> retry) {
        connect_failed(e, retry);
      });
  return true;
}

bool App::start_sources() {
  std::string emul;
  if (options_.soft_card) {
    std::string error;
    auto card = ensure_soft_card(default_soft_card_dir(), &error);
    if (!card) {
      print_error("--soft-card: " + error);
      return false;
    }
    // use_hw=no: the soft card only, no PKCS#11 modules scanned for tokens.
    emul = "use_hw=no " +
           build_soft_emul_args(db_emul_arg("sql:" + card->db_dir), card->nicknames);
    g_debug("soft card database: %s", card->db_dir.c_str());
  } else {
    emul = emul_args_for(options_);
  }
  std::unique_ptr<CardSource> source;
  if (options_.vicc || !options_.vicc_connect.empty()) {
    // --vicc / --vicc-connect: vpcd card programs, no pcscd (docs/vicc.md).
    ViccSource::Options vicc;
    vicc.listen = options_.vicc;
    vicc.connect = options_.vicc_connect;
    vicc.timeout = options_.vicc_timeout;
    source = std::make_unique<ViccSource>(std::move(vicc));
  } else if (options_.pcsc || options_.compare_pcsc) {
    // --pcsc: raw APDUs to local PC/SC readers (docs/pcsc.md); -p keeps the
    // anchor's meaning, the card in the first reader.
    PcscSource::Options pcsc;
    pcsc.pattern = options_.pcsc.value_or("");
    pcsc.exclusive = options_.exclusive;
    pcsc.first_reader_only = options_.compare_pcsc;
    source = std::make_unique<PcscSource>(std::move(pcsc));
  } else {
    source = std::make_unique<CacardSource>(emul);
  }
  std::string error;
  if (!source->start(g_main_context_default(), bridge_, &error)) {
    print_error(error);
    return false;
  }
  sources_.push_back(std::move(source));
  return true;
}

void App::warn_if_plaintext(const vscard::Address& address) const {
  if (!needs_plaintext_warning(address, connector_options_.tls.has_value())) return;
  g_warning("the connection to %s is not encrypted: card PINs and everything the card "
            "says cross the network in the clear. Use --tls-creds DIR (with QEMU: "
            "-object tls-creds-x509,id=tls0,dir=DIR,endpoint=server and tls-creds=tls0 "
            "on the chardev) to encrypt it; see docs/tls.md",
            address.to_string().c_str());
}

void App::connected(std::unique_ptr<vscard::Connection> connection) {
  link_.reset();
  connection_ = std::move(connection);
  peer_ = connection_->peer();
  connection_tls_ = connection_->is_tls();
  g_message("connected to %s%s", peer_.c_str(), connection_->is_tls() ? " (TLS)" : "");
  // A new host knows nothing: Init again, then every reader and card again.
  session_.restart();
  bridge_.restarted();
  link_ = std::make_unique<vscard::SessionLink<vscard::ClientSession>>(
      session_, *connection_,
      [this](const vscard::CloseReason& reason) { connection_closed(reason); });
}

void App::connect_failed(const GError* error, std::optional<std::chrono::milliseconds> retry_in) {
  if (exiting_) return;
  if (vscard::transport_error_is_permanent(error)) {
    print_error(std::string(error->message) + " (not retrying: this will not fix itself)");
    connector_->stop();
    finish(kExitConnect);
    return;
  }
  if (!retry_in) {
    print_error(error->message);
    finish(kExitConnect);
    return;
  }
  g_warning("%s; retrying in %.1f s", error->message, retry_in->count() / 1000.0);
}

void App::connection_closed(const vscard::CloseReason& reason) {
  link_.reset();
  connection_.reset();
  if (exiting_) {
    finish(status_);
    return;
  }
  std::string why = reason.message;
  // With TLS 1.3 a host that refuses our client certificate (QEMU's
  // verify-peer=on) does so after our side of the handshake has completed:
  // all we see is the connection closing before the host's Init.
  if (connection_tls_ && !session_.host_init_received()) {
    why += " -- the host ended the TLS connection before the VSCard handshake: it "
           "probably refused our client certificate (none, or not signed by a CA it "
           "trusts); check client-cert.pem and client-key.pem in " +
           options_.tls_creds.value_or("the --tls-creds directory");
  }
  if (!options_.reconnect || options_.once) {
    // One session only. Like libcacard's vscclient, a host that ends the
    // session in order (end of stream after its Init) is a success; a broken
    // connection, or one that ends before the handshake, is not.
    if (reason.kind == vscard::CloseReason::Kind::PeerClosed && session_.host_init_received()) {
      g_message("the host %s ended the session", peer_.c_str());
      finish(kExitOk);
      return;
    }
    print_error("connection to " + peer_ + " ended: " + why);
    finish(kExitFailure);
    return;
  }
  g_warning("connection to %s ended: %s; reconnecting", peer_.c_str(), why.c_str());
  connector_->reconnect();
}

void App::session_event(const vscard::ClientEvent& event) {
  namespace ev = vscard::client_event;
  if (const auto* init = std::get_if<ev::HostInit>(&event)) {
    if (init->version_mismatch) {
      g_warning("host speaks VSCard version %u.%u.%u, we speak %u.%u.%u; going on",
                vscard::version_major(init->version), vscard::version_middle(init->version),
                vscard::version_minor(init->version),
                vscard::version_major(vscard::kProtocolVersion),
                vscard::version_middle(vscard::kProtocolVersion),
                vscard::version_minor(vscard::kProtocolVersion));
    }
    g_debug("host Init received");
  } else if (const auto* move = std::get_if<ev::ReconnectRequested>(&event)) {
    follow_reconnect(std::string(move->host), std::string(move->port));
  } else if (const auto* closed = std::get_if<ev::Closed>(&event)) {
    g_warning("closing the connection to %s: %.*s", peer_.c_str(),
              static_cast<int>(closed->reason.size()), closed->reason.data());
  } else {
    bridge_.handle(event);
  }
}

void App::follow_reconnect(std::string host, std::string port) {
  GError* raw = nullptr;
  auto address = vscard::Address::from_host_port(host, port, &raw);
  if (!address) {
    GErrorPtr error(raw, g_error_free);
    g_warning("ignoring the host's Reconnect request: %s", error->message);
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
        connector_options_.address = target;
        connector_ = std::make_unique<vscard::Connector>(
            connector_options_,
            [this](std::unique_ptr<vscard::Connection> conn) { connected(std::move(conn)); },
            [this](const GError* e, std::optional<std::chrono::milliseconds> retry) {
              connect_failed(e, retry);
            });
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

gboolean App::on_stdin(GIOChannel* channel, GIOCondition, gpointer data) {
  auto* self = static_cast<App*>(data);
  while (true) {
    gchar* line = nullptr;
    GError* error = nullptr;
    GIOStatus status = g_io_channel_read_line(channel, &line, nullptr, nullptr, &error);
    if (status == G_IO_STATUS_NORMAL) {
      std::string text = line != nullptr ? line : "";
      g_free(line);
      self->command(text);
      if (self->exiting_) break;
      continue;
    }
    g_free(line);
    if (status == G_IO_STATUS_AGAIN) return G_SOURCE_CONTINUE;
    if (error != nullptr) {
      g_warning("reading commands from standard input failed: %s", error->message);
      g_error_free(error);
    }
    // End of input: keep serving the card (e.g. started with </dev/null).
    break;
  }
  self->stdin_watch_ = 0;
  return G_SOURCE_REMOVE;
}

void App::command(const std::string& line) {
  Command c = parse_command(line);
  auto print = [](const std::string& text) { std::fputs(text.c_str(), stdout); };
  switch (c.kind) {
    case Command::Kind::Empty:
      break;
    case Command::Kind::Exit:
      begin_exit(kExitOk);
      break;
    case Command::Kind::Insert:
    case Command::Kind::Remove: {
      bool insert = c.kind == Command::Kind::Insert;
      vscard::ReaderId id = c.argument.value_or(default_reader_);
      auto reader = bridge_.find_by_host_id(id);
      if (!reader) {
        std::printf("no reader by id %u found\n", id);
        break;
      }
      std::string error;
      bool ok = insert ? reader->source->force_insert(reader->source_id, &error)
                       : reader->source->force_remove(reader->source_id, &error);
      // The anchor prints libcacard's VCardEmulError: 0 ok, 1 failed.
      std::printf("%s %s, returned %d%s%s\n", insert ? "insert" : "remove",
                  vscard::printable(reader->info->name).c_str(), ok ? 0 : 1, ok ? "" : ": ",
                  vscard::printable(error).c_str());
      break;
    }
    case Command::Kind::Select: {
      auto reader = c.argument ? bridge_.find_by_host_id(*c.argument) : std::nullopt;
      if (!reader) {
        std::printf("Reader with id %u not found\n", c.argument.value_or(vscard::kUndefinedReaderId));
        break;
      }
      std::printf("Selecting reader %u, %s\n", *c.argument,
                  vscard::printable(reader->info->name).c_str());
      default_reader_ = *c.argument;
      break;
    }
    case Command::Kind::Debug:
      if (c.argument) set_log_level(static_cast<int>(*c.argument));
      std::printf("debug level = %d\n", log_level());
      break;
    case Command::Kind::List: {
      using State = vscard::ClientSession::ReaderState;
      print("Active Readers:\n");
      for (const auto& r : bridge_.readers()) {
        if (r.info == nullptr || r.info->state != State::Active) continue;
        std::printf("%3u %s %s\n", r.info->id, r.info->card_present ? "CARD_PRESENT" : "            ",
                    vscard::printable(r.info->name).c_str());
      }
      print("Inactive Readers:\n");
      for (const auto& r : bridge_.readers()) {
        if (r.info == nullptr || r.info->state == State::Active) continue;
        std::printf("INA %s %s\n", r.info->card_present ? "CARD_PRESENT" : "            ",
                    vscard::printable(r.info->name).c_str());
      }
      break;
    }
    case Command::Kind::AllowPin:
      if (!options_.pin_guard) {
        print("allow-pin: the PIN guard is off (start vscclient with --pin-guard)\n");
      } else {
        std::printf("allow-pin: %zu PIN reference(s) released\n", bridge_.allow_pin());
      }
      break;
    case Command::Kind::Unknown:
      print(command_help());
      break;
  }
  if (isatty(STDIN_FILENO) && !exiting_) print("> ");
  std::fflush(stdout);
}

void App::begin_exit(int status) {
  if (exiting_) return;
  exiting_ = true;
  status_ = status;
  if (moving_to_) moving_to_->stop();
  if (connector_) connector_->stop();
  // libcacard's vscclient sends CardRemove then ReaderRemove for every reader.
  bridge_.remove_all();
  if (connection_ && connection_->is_open()) {
    connection_->close_after_flush();  // connection_closed() finishes
    exit_timeout_ = g_timeout_add_seconds(
        kExitFlushSeconds,
        [](gpointer self) -> gboolean {
          auto* app = static_cast<App*>(self);
          app->exit_timeout_ = 0;
          g_warning("the host did not take the last messages within %u s", kExitFlushSeconds);
          app->finish(app->status_);
          return G_SOURCE_REMOVE;
        },
        this);
    return;
  }
  finish(status);
}

void App::finish(int status) {
  status_ = status;
  if (loop_ != nullptr) g_main_loop_quit(loop_);
}

}  // namespace vscclient
