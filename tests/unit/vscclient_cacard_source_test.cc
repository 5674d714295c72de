// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient/cacard_source.cc against libcacard for real, on a --soft-card database.
// libcacard initializes once per process, so one fixture drives one source.
#include "cacard_source.h"

#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <glib.h>
#include <gtest/gtest.h>

#include "emul_args.h"
#include "soft_card.h"
#include "vscard/atr.h"

namespace vscclient {
namespace {

struct Recorder : CardSourceListener {
  struct Reader {
    std::string name;
    std::vector<std::uint8_t> atr;
    bool card = false;
    int inserts = 0, removes = 0;
  };
  std::map<SourceReaderId, Reader> readers;
  std::vector<std::string> failures;
  void reader_added(CardSource&, SourceReaderId id, std::string name) override {
    readers[id].name = std::move(name);
  }
  void reader_removed(CardSource&, SourceReaderId id) override { readers.erase(id); }
  void card_inserted(CardSource&, SourceReaderId id, std::vector<std::uint8_t> atr) override {
    readers[id].atr = std::move(atr);
    readers[id].card = true;
    readers[id].inserts++;
  }
  void card_removed(CardSource&, SourceReaderId id) override {
    readers[id].card = false;
    readers[id].removes++;
  }
  void source_failed(CardSource&, std::string reason) override { failures.push_back(reason); }
};

// Iterates the default main context until `done` or 30 s (a failure, not a hang).
bool run_until(const std::function<bool()>& done) {
  gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
  while (!done()) {
    if (g_get_monotonic_time() > deadline) return false;
    g_main_context_iteration(nullptr, FALSE);
    g_usleep(1000);
  }
  return true;
}

std::vector<std::uint8_t> hex(std::string_view text) {
  std::vector<std::uint8_t> out;
  std::string digits;
  for (char c : text) if (c != ' ') digits += c;
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// SW1 SW2 as one number; 0 if the response is too short.
unsigned status_word(const std::vector<std::uint8_t>& r) {
  return r.size() < 2 ? 0u : (unsigned{r[r.size() - 2]} << 8) | r.back();
}
bool sw_ok(unsigned sw) { return sw == 0x9000 || (sw >> 8) == 0x61; }

class CacardSourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_autofree char* tmp = g_dir_make_tmp("vscclient-cacard-XXXXXX", nullptr);
    root_ = new std::string(tmp);
    std::string error;
    auto card = ensure_soft_card(*root_ + "/soft-card", &error);
    ASSERT_TRUE(card) << error;
    std::string args = "use_hw=no " +
                       build_soft_emul_args(db_emul_arg("sql:" + card->db_dir), card->nicknames);
    source_ = new CacardSource(args);
    recorder_ = new Recorder;
    ASSERT_TRUE(source_->start(g_main_context_default(), *recorder_, &error)) << error;
  }
  static void TearDownTestSuite() {
    delete source_;
    delete recorder_;
    std::string cmd = "rm -rf '" + *root_ + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    delete root_;
  }
  SourceReaderId reader() {
    EXPECT_TRUE(run_until([] { return !recorder_->readers.empty() &&
                                      recorder_->readers.begin()->second.card; }));
    return recorder_->readers.begin()->first;
  }
  ApduResult transmit(SourceReaderId id, std::vector<std::uint8_t> apdu,
                      std::size_t max = 65536 - 12) {
    std::optional<ApduResult> result;
    source_->transmit(id, std::move(apdu), max, [&](ApduResult r) { result = std::move(r); });
    EXPECT_FALSE(result) << "ApduDone must not run inside transmit()";
    EXPECT_TRUE(run_until([&] { return result.has_value(); }));
    return result.value_or(ApduResult{});
  }
  static std::string* root_;
  static CacardSource* source_;
  static Recorder* recorder_;
};
std::string* CacardSourceTest::root_ = nullptr;
CacardSource* CacardSourceTest::source_ = nullptr;
Recorder* CacardSourceTest::recorder_ = nullptr;

TEST_F(CacardSourceTest, VirtualReaderWithCardAndValidAtr) {
  SourceReaderId id = reader();
  EXPECT_EQ(recorder_->readers[id].name, "Virtual Reader");
  const auto& atr = recorder_->readers[id].atr;
  vscard::AtrError error{};
  auto info = vscard::parse_atr(atr, &error);
  ASSERT_TRUE(info) << vscard::to_string(error);
  // QEMU 7.2's usb-ccid speaks only T=0 (docs/qemu.md); its check_atr must pass.
  EXPECT_TRUE(info->offers(0));
  EXPECT_TRUE(vscard::qemu_accepts_atr(atr));
}

TEST_F(CacardSourceTest, SelectsCacPkiAppletAndReadsCertificate) {
  SourceReaderId id = reader();
  // SELECT the first PKI applet (libcacard cac.c: A0 00 00 00 79 01 00).
  ApduResult select = transmit(id, hex("00A4040007A0000000790100"));
  ASSERT_TRUE(select.ok) << select.error;
  EXPECT_TRUE(sw_ok(status_word(select.response))) << std::hex << status_word(select.response);
  // READ BUFFER (CAC 0x52) of the value buffer: libcacard answers 61 FF, and
  // GET RESPONSE then returns 255 bytes of the compressed-flag + certificate.
  ApduResult read = transmit(id, hex("8052000002 02FF"));
  ASSERT_TRUE(read.ok) << read.error;
  EXPECT_EQ(status_word(read.response), 0x61FFu);
  ApduResult data = transmit(id, hex("00C00000FF"));
  ASSERT_TRUE(data.ok) << data.error;
  ASSERT_EQ(data.response.size(), 257u);
  EXPECT_TRUE(sw_ok(status_word(data.response)));
  // The value buffer holds the certificate (a DER SEQUENCE, 30 82 ...) after
  // libcacard's three-byte header.
  EXPECT_EQ(data.response[3], 0x30);
  EXPECT_EQ(data.response[4], 0x82);
}

TEST_F(CacardSourceTest, CommandLongerThanTheAnchorsBuffer) {
  SourceReaderId id = reader();
  // libcacard's vscclient.c read host APDUs into a fixed 270-byte buffer. A
  // 307-byte extended-length command goes through here and gets a status word.
  std::vector<std::uint8_t> apdu = hex("002A9E9A00012C");
  apdu.resize(apdu.size() + 300, 0xAB);
  ApduResult result = transmit(id, apdu);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.response.size(), 2u);
  // A response larger than the buffer offered is cut, never overflowed.
  ASSERT_TRUE(transmit(id, hex("00A4040007A0000000790100")).ok);
  ASSERT_TRUE(transmit(id, hex("8052000002 02FF")).ok);
  ApduResult tiny = transmit(id, hex("00C00000FF"), 16);
  ASSERT_TRUE(tiny.ok);
  EXPECT_EQ(tiny.response.size(), 16u);
}

// Threads of this process (/proc/self/status).
long thread_count() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stol(line.substr(8));
  }
  return -1;
}

// The fast path (issue 19): a card whose keys are in NSS's own software token
// is answered on the main thread, a PIN check and a signature included -- no
// card worker is ever started -- and the answer still arrives from the main
// loop, after transmit() returned (transmit() above checks that).
TEST_F(CacardSourceTest, SoftCardAnswersWithoutAWorkerThread) {
  SourceReaderId id = reader();
  long before = thread_count();
  ASSERT_GT(before, 0);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(transmit(id, hex("00A4040007A0000000790100")).ok);
  // VERIFY (any PIN: the soft card's token has an empty password), then a raw
  // RSA-2048 operation on the signature key (CAC SIGN/DECRYPT, libcacard cac.c).
  ASSERT_TRUE(transmit(id, hex("0020000008313233343536FFFF")).ok);
  ASSERT_TRUE(transmit(id, hex("00A4040007A0000000790101")).ok);
  // Two chained parts of 128 bytes (P1 80: more follows), as cac_session.h.
  std::vector<std::uint8_t> block(256, 0xFF);
  block[0] = 0x00;
  block[1] = 0x01;
  std::vector<std::uint8_t> first = hex("8042800080");
  first.insert(first.end(), block.begin(), block.begin() + 128);
  ASSERT_TRUE(transmit(id, first).ok);
  std::vector<std::uint8_t> last = hex("8042000080");
  last.insert(last.end(), block.begin() + 128, block.end());
  last.push_back(0x00);
  ApduResult signature = transmit(id, last);
  ASSERT_TRUE(signature.ok) << signature.error;
  EXPECT_TRUE(sw_ok(status_word(signature.response))) << std::hex << status_word(signature.response);
  EXPECT_EQ(thread_count(), before) << "a card worker thread was started for the soft card";
}

// The fast path the bridge takes first (issue 19): the soft card answers
// inside transmit_now(), a signature included, and the answer is the one
// transmit() gives for the same command.
TEST_F(CacardSourceTest, SoftCardAnswersInsideTransmitNow) {
  SourceReaderId id = reader();
  std::vector<std::uint8_t> select = hex("00A4040007A0000000790100");
  ApduNow now = source_->transmit_now(id, select, 65536 - 12);
  ASSERT_EQ(now.kind, ApduNow::Kind::Answered) << now.error;
  std::vector<std::uint8_t> answered(now.response.begin(), now.response.end());
  EXPECT_TRUE(sw_ok(status_word(answered)));
  ApduResult queued = transmit(id, select);
  ASSERT_TRUE(queued.ok);
  EXPECT_EQ(answered, queued.response);
  ASSERT_EQ(source_->transmit_now(id, hex("0020000008313233343536FFFF"), 65536 - 12).kind,
            ApduNow::Kind::Answered);
  std::vector<std::uint8_t> first = hex("8042800080");
  first.resize(first.size() + 128, 0xFF);
  first[5] = 0x00;  // an EMSA-PKCS1-v1_5 block starts 00 01 (below the modulus)
  first[6] = 0x01;
  ASSERT_EQ(source_->transmit_now(id, first, 65536 - 12).kind, ApduNow::Kind::Answered);
  std::vector<std::uint8_t> last = hex("8042000080");
  last.resize(last.size() + 128, 0xFF);
  last.push_back(0x00);
  now = source_->transmit_now(id, last, 65536 - 12);
  ASSERT_EQ(now.kind, ApduNow::Kind::Answered) << now.error;
  std::vector<std::uint8_t> signature(now.response.begin(), now.response.end());
  EXPECT_TRUE(sw_ok(status_word(signature))) << std::hex << status_word(signature);
  // An unknown reader is left to transmit(), which reports it.
  EXPECT_EQ(source_->transmit_now(0xDEADBEEF, select, 65536 - 12).kind, ApduNow::Kind::Queued);
}

TEST_F(CacardSourceTest, UnknownReaderIsAnErrorNotACrash) {
  ApduResult result = transmit(0xDEADBEEF, hex("00A4040000"));
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.error.empty());
}

TEST_F(CacardSourceTest, ForcedRemoveAndInsertAreReported) {
  SourceReaderId id = reader();
  int inserts = recorder_->readers[id].inserts;
  std::string error;
  ASSERT_TRUE(source_->force_remove(id, &error)) << error;
  ASSERT_TRUE(run_until([&] { return !recorder_->readers[id].card; }));
  EXPECT_FALSE(source_->force_remove(id, &error));
  EXPECT_EQ(error, "no card is inserted");
  ApduResult no_card = transmit(id, hex("00A4040007A0000000790100"));
  EXPECT_FALSE(no_card.ok);
  ASSERT_TRUE(source_->force_insert(id, &error)) << error;
  ASSERT_TRUE(run_until([&] { return recorder_->readers[id].card; }));
  EXPECT_EQ(recorder_->readers[id].inserts, inserts + 1);
  EXPECT_FALSE(source_->force_insert(id, &error));
  EXPECT_TRUE(recorder_->failures.empty());
}

}  // namespace
}  // namespace vscclient
