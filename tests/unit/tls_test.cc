// SPDX-License-Identifier: LGPL-2.1-or-later
// TLS over real loopback sockets with certificates generated at runtime by
// certtool (gnutls-bin): plain server authentication, mutual TLS, and every
// refusal with the error text a user would see. Also the credentials loader.
#include "vscard/tls.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "transport_fixture.h"
#include "vscard/transport_error.h"

namespace vscard {
namespace {

using testing::Peer;

// Runs certtool; false (with the output in `log`) if it fails.
bool certtool(const std::vector<std::string>& args, std::string& log) {
  std::vector<const char*> argv{"certtool"};
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  gchar* out = nullptr;
  gchar* err = nullptr;
  gint status = 0;
  GErrorPtr error;
  const bool spawned = g_spawn_sync(nullptr, const_cast<gchar**>(argv.data()), nullptr, G_SPAWN_SEARCH_PATH,
                                    nullptr, nullptr, &out, &err, &status, error.out());
  log = spawned ? std::string(out ? out : "") + (err ? err : "") : error.message();
  g_free(out);
  g_free(err);
  return spawned && g_spawn_check_wait_status(status, nullptr);
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A directory tree of credentials, made once per test program:
//   ca/, other-ca/            two unrelated CAs (key + cert)
//   server/                   QEMU server layout, CA "ca", names localhost/127.0.0.1/::1
//   client/                   ca-cert (ca) + client pair signed by ca
//   client-nocert/            ca-cert (ca) only
//   client-wrongca/           ca-cert (other-ca): does not trust the server
//   client-othercert/         ca-cert (ca) + client pair signed by other-ca
class Pki {
 public:
  static Pki& get() {
    static Pki pki;
    return pki;
  }
  bool ok() const { return ok_; }
  const std::string& why() const { return why_; }
  std::string dir(const char* name) const { return root_ + "/" + name; }

 private:
  Pki() {
    gchar* certtool = g_find_program_in_path("certtool");
    g_free(certtool);
    if (certtool == nullptr) {
      why_ = "certtool not found (install gnutls-bin, listed in tests/ci-packages.txt)";
      return;
    }
    gchar* root = g_dir_make_tmp("vscard-tls-XXXXXX", nullptr);
    root_ = root;
    g_free(root);
    for (const char* d : {"ca", "other-ca", "server", "client", "client-nocert", "client-wrongca",
                          "client-othercert"})
      g_mkdir(dir(d).c_str(), 0700);
    ok_ = make_ca("ca", "vscard test CA") && make_ca("other-ca", "some other CA") &&
          make_cert("server", "server", "ca",
                    "cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\nip_address = ::1\n"
                    "tls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n") &&
          make_cert("client", "client", "ca",
                    "cn = vscclient\ntls_www_client\nencryption_key\nsigning_key\nexpiration_days = 2\n") &&
          make_cert("client-othercert", "client", "other-ca",
                    "cn = intruder\ntls_www_client\nencryption_key\nsigning_key\nexpiration_days = 2\n");
    if (!ok_) return;
    copy(dir("ca") + "/ca-cert.pem", dir("server") + "/ca-cert.pem");
    copy(dir("ca") + "/ca-cert.pem", dir("client") + "/ca-cert.pem");
    copy(dir("ca") + "/ca-cert.pem", dir("client-nocert") + "/ca-cert.pem");
    copy(dir("other-ca") + "/ca-cert.pem", dir("client-wrongca") + "/ca-cert.pem");
    copy(dir("ca") + "/ca-cert.pem", dir("client-othercert") + "/ca-cert.pem");
  }
  ~Pki() {
    if (!root_.empty()) {
      GObjectPtr<GFile> root(g_file_new_for_path(root_.c_str()));
      remove_tree(root.get());
    }
  }
  static void remove_tree(GFile* file) {
    GFileEnumerator* children = g_file_enumerate_children(file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                          G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, nullptr, nullptr);
    if (children) {
      GFileInfo* info = nullptr;
      GFile* child = nullptr;
      while (g_file_enumerator_iterate(children, &info, &child, nullptr, nullptr) && child) remove_tree(child);
      g_object_unref(children);
    }
    g_file_delete(file, nullptr, nullptr);
  }
  static void copy(const std::string& from, const std::string& to) {
    gchar* text = nullptr;
    gsize size = 0;
    g_file_get_contents(from.c_str(), &text, &size, nullptr);
    g_file_set_contents(to.c_str(), text, static_cast<gssize>(size), nullptr);
    g_free(text);
  }
  bool run(const std::vector<std::string>& args) {
    std::string log;
    if (certtool(args, log)) return true;
    why_ = "certtool failed: " + log;
    return false;
  }
  bool make_ca(const char* name, const char* cn) {
    const std::string d = dir(name);
    write_file(d + "/ca.info", std::string("cn = ") + cn + "\nca\ncert_signing_key\nexpiration_days = 2\n");
    return run({"--generate-privkey", "--key-type", "ecdsa", "--outfile", d + "/ca-key.pem"}) &&
           run({"--generate-self-signed", "--load-privkey", d + "/ca-key.pem", "--template", d + "/ca.info",
                "--outfile", d + "/ca-cert.pem"});
  }
  bool make_cert(const char* name, const char* role, const char* ca, const std::string& info) {
    const std::string d = dir(name);
    const std::string c = dir(ca);
    write_file(d + "/cert.info", info);
    return run({"--generate-privkey", "--key-type", "ecdsa", "--outfile", d + "/" + role + "-key.pem"}) &&
           run({"--generate-certificate", "--load-privkey", d + "/" + role + "-key.pem", "--load-ca-certificate",
                c + "/ca-cert.pem", "--load-ca-privkey", c + "/ca-key.pem", "--template", d + "/cert.info",
                "--outfile", d + "/" + role + "-cert.pem"});
  }

  std::string root_;
  std::string why_;
  bool ok_ = false;
};

class TlsTest : public testing::TransportTest {
 protected:
  void SetUp() override {
    TransportTest::SetUp();
    GErrorPtr error;
    if (!tls_available(error.out())) GTEST_SKIP() << error.message();
    if (!Pki::get().ok()) GTEST_SKIP() << Pki::get().why();
  }

  std::shared_ptr<const TlsCredentials> load(const char* name, TlsCredentials::Endpoint endpoint) {
    GErrorPtr error;
    auto credentials = TlsCredentials::load(Pki::get().dir(name), endpoint, error.out());
    EXPECT_TRUE(credentials) << error.message();
    return credentials;
  }

  // Starts a TLS listener on `host` and a connector with the client credentials in `client_dir`.
  void start(const char* client_dir, bool verify_peer, const std::string& hostname = "",
             const char* host = "127.0.0.1") {
    Listener::Options server;
    server.tls = TlsServerOptions{load("server", TlsCredentials::Endpoint::Server), verify_peer};
    listener_ = listen(Address::tcp(host, 0), server);
    ASSERT_TRUE(listener_);
    Connector::Options options;
    options.address = Address::tcp(host, listener_->port());
    options.tls = TlsClientOptions{load(client_dir, TlsCredentials::Endpoint::Client), hostname};
    options.max_attempts = 1;
    connector_ = connector(options);
    connector_->start();
  }

  void expect_exchange() {
    ASSERT_TRUE(run_until([&] { return !connected.empty() && !accepted.empty(); }))
        << (failures.empty() ? "" : failures[0]) << (rejected.empty() ? "" : rejected[0]);
    EXPECT_TRUE(connected[0]->connection->is_tls());
    EXPECT_TRUE(accepted[0]->connection->is_tls());
    accepted[0]->start(/*echo=*/true);
    connected[0]->start();
    connected[0]->write("secret APDU");
    ASSERT_TRUE(run_until([&] { return connected[0]->received == "secret APDU"; }));
  }

  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Connector> connector_;
};

TEST_F(TlsTest, ServerAuthentication) {
  start("client-nocert", /*verify_peer=*/false);
  expect_exchange();
}

TEST_F(TlsTest, ServerAuthenticationOverIpv6) {
  start("client-nocert", false, "", "::1");
  expect_exchange();
}

TEST_F(TlsTest, MutualTlsOverUnixSocketChecksLocalhost) {
  gchar* dir = g_dir_make_tmp("vscard-tls-unix-XXXXXX", nullptr);
  const std::string path = std::string(dir) + "/s";
  Listener::Options server;
  server.tls = TlsServerOptions{load("server", TlsCredentials::Endpoint::Server), true};
  listener_ = listen(Address::unix_path(path), server);
  ASSERT_TRUE(listener_);
  Connector::Options options;
  options.address = Address::unix_path(path);
  // No --tls-hostname: over a Unix socket the certificate must name "localhost".
  options.tls = TlsClientOptions{load("client", TlsCredentials::Endpoint::Client), ""};
  options.max_attempts = 1;
  connector_ = connector(options);
  connector_->start();
  expect_exchange();
  accepted.clear();
  connected.clear();
  listener_.reset();
  g_rmdir(dir);
  g_free(dir);
}

TEST_F(TlsTest, MutualTls) {
  start("client", /*verify_peer=*/true);
  expect_exchange();
  EXPECT_TRUE(rejected.empty());
}

TEST_F(TlsTest, ClientRejectsUnknownCa) {
  start("client-wrongca", false);
  ASSERT_TRUE(run_until([&] { return gave_up; }));
  EXPECT_TRUE(connected.empty());
  EXPECT_EQ(failure_codes.at(0),
            std::make_pair(VSCARD_TRANSPORT_ERROR, static_cast<int>(TransportError::TlsUnknownCa)));
  EXPECT_EQ(failures[0], "TLS handshake with 127.0.0.1:" + std::to_string(listener_->port()) +
                             " failed: the server certificate is not signed by the CA in " +
                             Pki::get().dir("client-wrongca") + "/ca-cert.pem (unknown CA)");
}

TEST_F(TlsTest, ClientRejectsWrongHostName) {
  start("client", true, "wrong.example");
  ASSERT_TRUE(run_until([&] { return gave_up; }));
  EXPECT_TRUE(connected.empty());
  EXPECT_EQ(failure_codes.at(0),
            std::make_pair(VSCARD_TRANSPORT_ERROR, static_cast<int>(TransportError::TlsNameMismatch)));
  EXPECT_NE(failures[0].find("failed: the server certificate does not name 'wrong.example' (host name "
                             "mismatch; the expected name can be set with --tls-hostname)"),
            std::string::npos)
      << failures[0];
}

TEST_F(TlsTest, HostNameOverrideAccepted) {
  // Connecting by an address the certificate does not list works when the
  // expected name is given (vscclient --tls-hostname localhost).
  start("client", true, "localhost");
  expect_exchange();
}

TEST_F(TlsTest, ServerRequiresClientCertificate) {
  start("client-nocert", /*verify_peer=*/true);
  ASSERT_TRUE(run_until([&] { return !rejected.empty(); }));
  EXPECT_NE(rejected[0].find("TLS handshake with client 127.0.0.1:"), std::string::npos) << rejected[0];
  EXPECT_NE(rejected[0].find("failed: the client sent no certificate, but this listener requires one"),
            std::string::npos)
      << rejected[0];
  EXPECT_TRUE(accepted.empty());
  // The client learns it too: either its handshake fails (TLS 1.2) or its
  // first read does (TLS 1.3 sends the alert after the client's Finished).
  ASSERT_TRUE(run_until([&] {
    return gave_up || (!connected.empty() && (connected[0]->start(), connected[0]->closed.has_value()));
  }));
  const std::string client_error = gave_up ? failures.at(0) : connected[0]->closed->message;
  EXPECT_NE(client_error.find("the server requires a client certificate (mutual TLS): put client-cert.pem and "
                              "client-key.pem"),
            std::string::npos)
      << client_error;
}

TEST_F(TlsTest, ServerRejectsClientCertificateFromOtherCa) {
  start("client-othercert", /*verify_peer=*/true);
  ASSERT_TRUE(run_until([&] { return !rejected.empty(); }));
  EXPECT_NE(rejected[0].find("failed: the client certificate is not signed by the CA in " +
                             Pki::get().dir("server") + "/ca-cert.pem (unknown CA)"),
            std::string::npos)
      << rejected[0];
  EXPECT_TRUE(accepted.empty());
}

TEST_F(TlsTest, NoFallbackToPlaintext) {
  // A plaintext echo server: the TLS client must fail, never talk in clear.
  listener_ = listen(Address::tcp("127.0.0.1", 0));
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", listener_->port());
  options.tls = TlsClientOptions{load("client", TlsCredentials::Endpoint::Client), ""};
  options.max_attempts = 1;
  connector_ = connector(options);
  connector_->start();
  ASSERT_TRUE(run_until([&] { return !accepted.empty(); }));
  accepted[0]->start(/*echo=*/true);
  ASSERT_TRUE(run_until([&] { return gave_up; }));
  EXPECT_TRUE(connected.empty());
  EXPECT_NE(failures.at(0).find("TLS handshake with 127.0.0.1:"), std::string::npos) << failures[0];

  // A plaintext client against a TLS listener is turned away as well.
  Listener::Options server;
  server.tls = TlsServerOptions{load("server", TlsCredentials::Endpoint::Server), false};
  auto tls_listener = listen(Address::tcp("127.0.0.1", 0), server);
  Connector::Options plain;
  plain.address = Address::tcp("127.0.0.1", tls_listener->port());
  auto plain_connector = connector(plain);
  plain_connector->start();
  ASSERT_TRUE(run_until([&] { return connected.size() == 1; }));
  connected[0]->start();
  connected[0]->write("plaintext Init, not a ClientHello");
  ASSERT_TRUE(run_until([&] { return !rejected.empty(); }));
  EXPECT_NE(rejected[0].find("TLS handshake with client 127.0.0.1:"), std::string::npos) << rejected[0];
  EXPECT_EQ(accepted.size(), 1u);  // only the earlier plaintext one
}

// A TLS record larger than the read buffer leaves decrypted bytes inside
// GnuTLS while the socket has nothing more to read: the stream's source must
// count them as readable (gnutls_record_check_pending), or the rest of the
// message waits for the client's next write.
TEST_F(TlsTest, RecordLargerThanTheReadBufferIsReadWhole) {
  Listener::Options server;
  server.tls = TlsServerOptions{load("server", TlsCredentials::Endpoint::Server), true};
  server.connection.read_buffer_size = 100;
  listener_ = listen(Address::tcp("127.0.0.1", 0), server);
  ASSERT_TRUE(listener_);
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", listener_->port());
  options.tls = TlsClientOptions{load("client", TlsCredentials::Endpoint::Client), ""};
  options.max_attempts = 1;
  connector_ = connector(options);
  connector_->start();
  ASSERT_TRUE(run_until([&] { return !connected.empty() && !accepted.empty(); }));
  accepted[0]->start();
  connected[0]->start();
  const std::string message(10000, 'x');  // one write, one record (at most 16 KiB)
  connected[0]->write(message);
  ASSERT_TRUE(run_until([&] { return accepted[0]->received.size() == message.size(); }, std::chrono::seconds(5)))
      << accepted[0]->received.size() << " of " << message.size() << " bytes read";
}

// A closed connection's descriptor number is free for the next socket (the
// next accepted client, in vschost). Destroying the server's TLS stream
// (GIOStream dispose closes it) used to send close_notify on that number
// after the socket was closed, i.e. into whichever connection had it now.
TEST_F(TlsTest, ClosedServerConnectionNeverWritesToItsOldDescriptor) {
  start("client", /*verify_peer=*/true);
  expect_exchange();
  const int fd = g_socket_get_fd(accepted[0]->connection->socket());
  accepted[0]->connection->close();
  ASSERT_EQ(fcntl(fd, F_GETFD), -1) << "close() closes the socket at once";
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  ASSERT_EQ(dup2(pair[0], fd), fd);  // another socket takes the number
  accepted.clear();                  // the Connection and its stream go away
  run_for(std::chrono::milliseconds(50));
  char bytes[256];
  const ssize_t n = recv(pair[1], bytes, sizeof bytes, MSG_DONTWAIT);
  EXPECT_EQ(n, -1) << n << " bytes were written to descriptor " << fd << " after its connection was closed";
  close(fd);
  close(pair[0]);
  close(pair[1]);
}

// --- the credentials loader ---

class TlsCredentialsTest : public testing::MainLoopTest {
 protected:
  void SetUp() override {
    MainLoopTest::SetUp();
    GErrorPtr error;
    if (!tls_available(error.out())) GTEST_SKIP() << error.message();
    if (!Pki::get().ok()) GTEST_SKIP() << Pki::get().why();
    gchar* d = g_dir_make_tmp("vscard-creds-XXXXXX", nullptr);
    dir_ = d;
    g_free(d);
  }
  void TearDown() override {
    for (const char* f : {"ca-cert.pem", "ca-crl.pem", "client-cert.pem", "client-key.pem", "server-cert.pem",
                          "server-key.pem"})
      g_unlink((dir_ + "/" + f).c_str());
    g_rmdir(dir_.c_str());
    MainLoopTest::TearDown();
  }
  std::string load_error(TlsCredentials::Endpoint endpoint) {
    GErrorPtr error;
    EXPECT_FALSE(TlsCredentials::load(dir_, endpoint, error.out()));
    EXPECT_TRUE(g_error_matches(error.get(), VSCARD_TRANSPORT_ERROR,
                                static_cast<int>(TransportError::TlsCredentials)));
    return error.message();
  }
  void put(const char* name, const std::string& text) { write_file(dir_ + "/" + name, text); }
  void put_from(const char* name, const char* pki_dir, const char* file) {
    gchar* text = nullptr;
    g_file_get_contents((Pki::get().dir(pki_dir) + "/" + file).c_str(), &text, nullptr, nullptr);
    put(name, text ? text : "");
    g_free(text);
  }
  std::string dir_;
};

TEST_F(TlsCredentialsTest, MissingDirectory) {
  GErrorPtr error;
  EXPECT_FALSE(TlsCredentials::load("/nonexistent/tls", TlsCredentials::Endpoint::Client, error.out()));
  EXPECT_EQ(std::string(error.message()), "TLS credentials: /nonexistent/tls: no such directory");
}

TEST_F(TlsCredentialsTest, MissingCaCertIsNamed) {
  EXPECT_EQ(load_error(TlsCredentials::Endpoint::Client),
            "TLS credentials: " + dir_ + "/ca-cert.pem: No such file or directory");
}

TEST_F(TlsCredentialsTest, GarbageCaCert) {
  put("ca-cert.pem", "not a certificate\n");
  EXPECT_EQ(load_error(TlsCredentials::Endpoint::Client).rfind("TLS credentials: " + dir_ + "/ca-cert.pem: ", 0), 0u);
}

TEST_F(TlsCredentialsTest, ServerNeedsItsPair) {
  put_from("ca-cert.pem", "ca", "ca-cert.pem");
  EXPECT_EQ(load_error(TlsCredentials::Endpoint::Server),
            "TLS credentials: " + dir_ + "/server-cert.pem: No such file or directory");
  put_from("server-cert.pem", "server", "server-cert.pem");
  EXPECT_EQ(load_error(TlsCredentials::Endpoint::Server),
            "TLS credentials: " + dir_ + "/server-key.pem: No such file or directory");
  put_from("server-key.pem", "server", "server-key.pem");
  GErrorPtr error;
  EXPECT_TRUE(TlsCredentials::load(dir_, TlsCredentials::Endpoint::Server, error.out())) << error.message();
}

TEST_F(TlsCredentialsTest, ClientPairIsOptionalButWhole) {
  put_from("ca-cert.pem", "ca", "ca-cert.pem");
  GErrorPtr error;
  auto plain = TlsCredentials::load(dir_, TlsCredentials::Endpoint::Client, error.out());
  ASSERT_TRUE(plain) << error.message();
  EXPECT_EQ(plain->certificate(), nullptr);
  put_from("client-cert.pem", "client", "client-cert.pem");
  EXPECT_EQ(load_error(TlsCredentials::Endpoint::Client),
            "TLS credentials: " + dir_ + "/client-key.pem: missing (client-cert.pem needs its key)");
  put_from("client-key.pem", "client", "client-key.pem");
  auto full = TlsCredentials::load(dir_, TlsCredentials::Endpoint::Client, error.out());
  ASSERT_TRUE(full) << error.message();
  EXPECT_NE(full->certificate(), nullptr);
}

// ca-crl.pem is honoured (issue 18: test_vschost_tls and test_vscclient_tls
// refuse revoked peers); a file that is no CRL stops the load, naming it.
TEST_F(TlsCredentialsTest, CrlThatIsNoCrlIsRefusedNotIgnored) {
  put_from("ca-cert.pem", "ca", "ca-cert.pem");
  put("ca-crl.pem", "");
  EXPECT_NE(load_error(TlsCredentials::Endpoint::Client).find(dir_ + "/ca-crl.pem: "),
            std::string::npos);
}

}  // namespace
}  // namespace vscard
