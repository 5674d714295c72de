// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient/vicc_source: cards from vpcd card programs over real loopback
// sockets, the card side played by the test (frames as vpcd.c reads them).
#include "vicc_source.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../unit/main_loop_fixture.h"

using namespace vscclient;
using Vec = std::vector<std::uint8_t>;

namespace {

const Vec kAtr{0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B};

Vec frame(const Vec& data) {
  Vec out(data.size() + 2);
  out[0] = static_cast<std::uint8_t>(data.size() >> 8);
  out[1] = static_cast<std::uint8_t>(data.size());
  std::copy(data.begin(), data.end(), out.begin() + 2);
  return out;
}

struct Recorder : CardSourceListener {
  std::vector<std::string> log;
  std::map<SourceReaderId, std::string> names;
  void reader_added(CardSource&, SourceReaderId id, std::string name) override {
    names[id] = name;
    log.push_back("reader+ " + name);
  }
  void reader_removed(CardSource&, SourceReaderId id) override { log.push_back("reader- " + names[id]); }
  void card_inserted(CardSource&, SourceReaderId id, Vec atr) override {
    log.push_back("card+ " + names[id] + " " + std::to_string(atr.size()));
  }
  void card_removed(CardSource&, SourceReaderId id) override { log.push_back("card- " + names[id]); }
  void source_failed(CardSource&, std::string reason) override { log.push_back("failed " + reason); }
  bool has(const std::string& line) const {
    return std::find(log.begin(), log.end(), line) != log.end();
  }
  std::optional<SourceReaderId> id_of(const std::string& name) const {
    for (const auto& [id, n] : names)
      if (n == name) return id;
    return std::nullopt;
  }
};

// One card program's socket, non-blocking; the test's main loop runs meanwhile.
class FakeCard {
 public:
  explicit FakeCard(std::uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~FakeCard() { close(); }
  bool connected() const { return connected_; }
  void send(const Vec& bytes) { ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size())); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Reads what arrived (non-blocking) into `received`.
  const Vec& poll() {
    std::uint8_t buf[4096];
    ssize_t n;
    while ((n = recv(fd_, buf, sizeof buf, 0)) > 0) received.insert(received.end(), buf, buf + n);
    if (n == 0) peer_closed = true;
    return received;
  }
  Vec received;
  bool peer_closed = false;

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class ViccSourceTest : public vscard::testing::MainLoopTest {
 protected:
  std::unique_ptr<ViccSource> start(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    ViccSource::Options o;
    o.listen = vscard::Address::tcp("127.0.0.1", 0);
    o.timeout = timeout;
    auto source = std::make_unique<ViccSource>(o);
    std::string error;
    EXPECT_TRUE(source->start(context_, recorder, &error)) << error;
    return source;
  }
  // Connects a card and brings it up to the inserted state.
  void insert(FakeCard& card, const std::string& reader, std::size_t expected_inserts) {
    ASSERT_TRUE(card.connected());
    ASSERT_TRUE(run_until([&] { return card.poll().size() >= 6; }));
    EXPECT_EQ(card.received, (Vec{0x00, 0x01, 0x01, 0x00, 0x01, 0x04}));  // power on, get ATR
    card.received.clear();
    card.send(frame(kAtr));
    ASSERT_TRUE(run_until([&] { return count("card+ ") == expected_inserts; }));
    EXPECT_TRUE(recorder.has("card+ " + reader + " 11"));
  }
  std::size_t count(const std::string& prefix) const {
    std::size_t n = 0;
    for (const auto& line : recorder.log) n += line.starts_with(prefix);
    return n;
  }
  Recorder recorder;
};

}  // namespace

TEST_F(ViccSourceTest, ReaderExistsBeforeAnyCardAndIsAnnouncedFromTheLoop) {
  auto source = start();
  EXPECT_TRUE(recorder.log.empty());  // never inside start() (card_source.h)
  ASSERT_TRUE(run_until([&] { return recorder.has("reader+ vicc 0"); }));
  EXPECT_NE(source->listen_port(), 0);
}

TEST_F(ViccSourceTest, ConnectionIsInsertionApdusRoundTripCloseIsRemoval) {
  auto source = start();
  FakeCard card(source->listen_port());
  insert(card, "vicc 0", 1);
  SourceReaderId id = *recorder.id_of("vicc 0");

  std::optional<ApduResult> result;
  Vec select{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00};
  source->transmit(id, select, 65524, [&](ApduResult r) { result = std::move(r); });
  EXPECT_FALSE(result);
  ASSERT_TRUE(run_until([&] { return card.poll().size() >= select.size() + 2; }));
  EXPECT_EQ(card.received, frame(select));  // unchanged
  card.send(frame({0x90, 0x00}));
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_TRUE(result->ok);
  EXPECT_EQ(result->response, (Vec{0x90, 0x00}));

  card.close();
  ASSERT_TRUE(run_until([&] { return recorder.has("card- vicc 0"); }));
  run_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(recorder.has("reader- vicc 0"));  // "vicc 0" stays for the next card

  FakeCard again(source->listen_port());
  insert(again, "vicc 0", 2);  // a new connection is a new insertion
}

TEST_F(ViccSourceTest, ApdusWaitTheirTurnAndAreAnsweredInOrder) {
  auto source = start();
  FakeCard card(source->listen_port());
  insert(card, "vicc 0", 1);
  SourceReaderId id = *recorder.id_of("vicc 0");
  std::vector<Vec> answers;
  source->transmit(id, {0x00, 0x84, 0x00, 0x00, 0x01}, 65524, [&](ApduResult r) { answers.push_back(r.response); });
  source->transmit(id, {0x00, 0x84, 0x00, 0x00, 0x02}, 65524, [&](ApduResult r) { answers.push_back(r.response); });
  ASSERT_TRUE(run_until([&] { return card.poll().size() >= 7; }));
  run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(card.poll().size(), 7u);  // the second waits for the first answer
  card.received.clear();
  card.send(frame({0x11, 0x90, 0x00}));
  ASSERT_TRUE(run_until([&] { return card.poll().size() >= 7; }));
  card.send(frame({0x22, 0x33, 0x90, 0x00}));
  ASSERT_TRUE(run_until([&] { return answers.size() == 2; }));
  EXPECT_EQ(answers[0], (Vec{0x11, 0x90, 0x00}));
  EXPECT_EQ(answers[1], (Vec{0x22, 0x33, 0x90, 0x00}));
}

TEST_F(ViccSourceTest, SecondCardGetsItsOwnReaderWhichGoesWithIt) {
  auto source = start();
  FakeCard first(source->listen_port());
  insert(first, "vicc 0", 1);
  FakeCard second(source->listen_port());
  insert(second, "vicc 1", 2);
  EXPECT_TRUE(recorder.has("reader+ vicc 1"));
  second.close();
  ASSERT_TRUE(run_until([&] { return recorder.has("reader- vicc 1"); }));
  EXPECT_TRUE(recorder.has("card- vicc 1"));
  EXPECT_FALSE(recorder.has("card- vicc 0"));
}

TEST_F(ViccSourceTest, SilentCardGetsAnErrorToTheHostAndIsDropped) {
  auto source = start(std::chrono::milliseconds(300));
  FakeCard card(source->listen_port());
  insert(card, "vicc 0", 1);
  SourceReaderId id = *recorder.id_of("vicc 0");
  std::optional<ApduResult> result;
  source->transmit(id, {0x00, 0x84, 0x00, 0x00, 0x08}, 65524, [&](ApduResult r) { result = std::move(r); });
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_FALSE(result->ok);
  EXPECT_TRUE(recorder.has("card- vicc 0"));
  ASSERT_TRUE(run_until([&] { card.poll(); return card.peer_closed; }));
}

TEST_F(ViccSourceTest, CardWithoutAnAtrIsDroppedAfterTheTimeout) {
  auto source = start(std::chrono::milliseconds(300));
  FakeCard card(source->listen_port());
  ASSERT_TRUE(run_until([&] { card.poll(); return card.peer_closed; }));
  EXPECT_EQ(count("card+ "), 0u);
  EXPECT_EQ(count("card- "), 0u);  // never inserted, so never removed
}

TEST_F(ViccSourceTest, ProtocolBreachDropsTheCardAndFailsItsApdu) {
  auto source = start();
  FakeCard card(source->listen_port());
  insert(card, "vicc 0", 1);
  SourceReaderId id = *recorder.id_of("vicc 0");
  std::optional<ApduResult> result;
  source->transmit(id, {0x00, 0x84, 0x00, 0x00, 0x08}, 65524, [&](ApduResult r) { result = std::move(r); });
  ASSERT_TRUE(run_until([&] { return card.poll().size() >= 7; }));
  card.send({0x00, 0x00});  // an empty frame
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_FALSE(result->ok);
  EXPECT_TRUE(recorder.has("card- vicc 0"));
}

TEST_F(ViccSourceTest, ResponseLongerThanTheHostTakesIsAnError) {
  auto source = start();
  FakeCard card(source->listen_port());
  insert(card, "vicc 0", 1);
  SourceReaderId id = *recorder.id_of("vicc 0");
  std::optional<ApduResult> result;
  source->transmit(id, {0x00, 0xB0, 0x00, 0x00, 0x00}, 4, [&](ApduResult r) { result = std::move(r); });
  ASSERT_TRUE(run_until([&] { return card.poll().size() >= 7; }));
  card.send(frame({1, 2, 3, 4, 0x90, 0x00}));
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_FALSE(result->ok);
  EXPECT_NE(result->error.find("more than the host takes"), std::string::npos) << result->error;
}

TEST_F(ViccSourceTest, ApduWithoutACardIsAnsweredLaterWithAnError) {
  auto source = start();
  ASSERT_TRUE(run_until([&] { return recorder.has("reader+ vicc 0"); }));
  std::optional<ApduResult> result;
  source->transmit(*recorder.id_of("vicc 0"), {0x00, 0xA4, 0x00, 0x00}, 65524,
                   [&](ApduResult r) { result = std::move(r); });
  EXPECT_FALSE(result);  // never inside transmit() (card_source.h)
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_FALSE(result->ok);
}

TEST_F(ViccSourceTest, PortInUseNamesTheWayOut) {
  auto first = start();
  ViccSource::Options o;
  o.listen = vscard::Address::tcp("127.0.0.1", first->listen_port());
  ViccSource second(o);
  Recorder other;
  std::string error;
  EXPECT_FALSE(second.start(context_, other, &error));
  EXPECT_NE(error.find("--vicc=PORT"), std::string::npos) << error;
  EXPECT_NE(error.find("vpcd"), std::string::npos) << error;
}

TEST_F(ViccSourceTest, ConnectModeRedialsACardThatWentAway) {
  // vicc -R: the card listens; we dial it, and again after it closed.
  int server = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(server, 4), 0);
  socklen_t len = sizeof a;
  getsockname(server, reinterpret_cast<sockaddr*>(&a), &len);
  fcntl(server, F_SETFL, O_NONBLOCK);

  ViccSource::Options o;
  o.connect.push_back(vscard::Address::tcp("127.0.0.1", ntohs(a.sin_port)));
  o.backoff.initial = std::chrono::milliseconds(50);
  o.backoff.max = std::chrono::milliseconds(200);
  ViccSource source(o);
  std::string error;
  ASSERT_TRUE(source.start(context_, recorder, &error)) << error;
  std::string name = "vicc 127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  for (std::size_t round = 1; round <= 2; ++round) {
    int fd = -1;
    ASSERT_TRUE(run_until([&] { return (fd = accept(server, nullptr, nullptr)) >= 0; }));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    Vec got;
    ASSERT_TRUE(run_until([&] {
      std::uint8_t buf[64];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) got.insert(got.end(), buf, buf + n);
      return got.size() >= 6;
    }));
    Vec atr = frame(kAtr);
    ASSERT_EQ(send(fd, atr.data(), atr.size(), MSG_NOSIGNAL), ssize_t(atr.size()));
    ASSERT_TRUE(run_until([&] { return count("card+ ") == round; }));
    EXPECT_TRUE(recorder.has("card+ " + name + " 11"));
    ::close(fd);
    ASSERT_TRUE(run_until([&] { return count("card- ") == round; }));
  }
  EXPECT_FALSE(recorder.has("reader- " + name));
  source.stop();
  ::close(server);
}
