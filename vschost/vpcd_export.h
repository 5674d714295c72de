// SPDX-License-Identifier: LGPL-2.1-or-later
// VpcdExport: vschost --export-pcsc. Hands the cards of connected VSCard clients
// to the local pcscd through vsmartcard's vpcd driver, so PC/SC applications
// (OpenSC, pcsc_scan, scdaemon, PKCS#11 users) see them in "Virtual PCD 00 0N":
//
//   card -> vscclient -> VSCard (TCP/TLS) -> vschost -> vpcd -> pcscd -> application
//
// vpcd listens on one TCP port per slot (CHANNELID 0x8C7B = 35963 in Debian's
// /etc/reader.conf.d/vpcd, then 35964 ..., two slots as built by Debian). Each
// VSCard reader, of any client, takes the lowest free slot when it is added. A
// slot is connected to vpcd exactly while its reader holds a card that the host
// accepted (vpcd takes a connection for an inserted card); the protocol on that
// connection is ExportSlot's (vpcd_export_slot.h). A connection that vpcd drops
// (pcscd stopped or restarted) is made again with capped backoff while the card
// is there.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "host_observer.h"
#include "vscard/address.h"
#include "vscard/connector.h"
#include "vscard/vpcd_frame.h"

namespace vschost {

class HostServer;

inline constexpr const char* kDefaultVpcdAddress = "127.0.0.1:35963";
// Debian's vsmartcard-vpcd is built with two slots (configure --enable-vpcdslots).
inline constexpr unsigned kDefaultVpcdSlots = 2;

class VpcdExport : public HostObserver {
 public:
  struct Options {
    // Slot 0's address; slot N is the same host, port + N.
    vscard::Address address = vscard::Address::tcp("127.0.0.1", 35963);
    unsigned slots = kDefaultVpcdSlots;
    // The port of vpcd's slot 0 (pcscd's reader.conf: DEVICENAME /dev/null:PORT,
    // Debian's 35963): reader "Virtual PCD 00 0N" listens on it + N.
    unsigned vpcd_first_port = 35963;
    // 2 and more: also log vpcd's get-ATR polls (about one a second per slot).
    int verbose = 0;
    // --log-pins: PIN-bearing commands unredacted in the debug log.
    bool log_pins = false;
    // vpcd is local: retry soon, and never wait long once pcscd is back.
    vscard::Backoff backoff{std::chrono::milliseconds(200), std::chrono::milliseconds(5000), 2.0,
                            0.2};
  };

  // Parses --export-pcsc's HOST:PORT (empty: the default) and --export-slots
  // into Options; nullopt with `error` set to one line.
  static std::optional<Options> parse(std::string_view address, unsigned slots,
                                      std::string& error);

  // Registers itself as an observer of `server`, which must outlive it.
  VpcdExport(HostServer& server, Options options);
  ~VpcdExport() override;
  VpcdExport(const VpcdExport&) = delete;
  VpcdExport& operator=(const VpcdExport&) = delete;

  // HostObserver
  void reader_added(ReaderRef reader, std::string_view name) override;
  void reader_removed(ReaderRef reader) override;
  void card_inserted(ReaderRef reader, std::span<const std::uint8_t> atr,
                     bool accepted) override;
  void card_removed(ReaderRef reader) override;
  void client_disconnected(ClientId client, std::string_view reason) override;

 private:
  struct Slot;

  Slot* find(ReaderRef reader);
  Slot* assign(ReaderRef reader, std::string_view name);
  void release(Slot& slot);
  // Carries out what the slot's state asks for: output, commands, closing,
  // connecting. Safe to call at any time; does nothing when nothing is due.
  void sync(Slot& slot);
  void on_connected(Slot& slot, std::unique_ptr<vscard::Connection> connection);
  void on_data(Slot& slot, std::span<const std::uint8_t> data);
  void on_closed(Slot& slot, const std::string& reason);
  // Sends vpcd's power off / power on / reset to the client as CardControl.
  void forward_power(Slot& slot, vscard::vpcd::Control control);
  void on_connect_failed(Slot& slot, const GError* error,
                         std::optional<std::chrono::milliseconds> retry_in);
  void on_answer(unsigned index, std::uint64_t connection, ReaderRef reader,
                 std::optional<std::vector<std::uint8_t>> response,
                 std::optional<std::uint32_t> error);

  // An application on this machine took or left the card of a slot's reader
  // (ReaderUseWatch): forwarded as reader in use / not in use / exclusive.
  void reader_use_changed(const std::string& pcsc_reader, int use);

  HostServer& server_;
  Options options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::shared_ptr<void> use_watch_;  // ReaderUseWatch, when built with libpcsclite
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace vschost
