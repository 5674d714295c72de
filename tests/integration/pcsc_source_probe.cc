// SPDX-License-Identifier: LGPL-2.1-or-later
// pcsc_source_probe: drives vscclient::PcscSource (the CardSource that
// `vscclient --pcsc` uses) on a GMainLoop, with the same stdin/stdout lines as
// pcsc_probe, so test_pcsc_layer.py checks the source's contract too: events
// and APDU answers arrive on the main context, an outstanding APDU is answered
// when its card goes.
//
// Usage: pcsc_source_probe [--pattern P] [--exclusive] [--first]
#include <glib.h>

#include <iostream>
#include <map>
#include <string>

#include "pcsc_source.h"
#include "vscard/apdu.h"

namespace {

void say(const std::string& line) { std::cout << line << std::endl; }

class Listener : public vscclient::CardSourceListener {
 public:
  std::map<vscclient::SourceReaderId, std::string> names;
  void reader_added(vscclient::CardSource&, vscclient::SourceReaderId id, std::string name) override {
    names[id] = name;
    say("reader_added " + name);
  }
  void reader_removed(vscclient::CardSource&, vscclient::SourceReaderId id) override {
    say("reader_removed " + names[id]);
    names.erase(id);
  }
  void card_inserted(vscclient::CardSource&, vscclient::SourceReaderId id,
                     std::vector<std::uint8_t> atr) override {
    say("card_inserted " + names[id] + "|" + vscard::to_hex(atr));
  }
  void card_removed(vscclient::CardSource&, vscclient::SourceReaderId id) override {
    say("card_removed " + names[id]);
  }
  void source_failed(vscclient::CardSource&, std::string reason) override {
    say("source_failed " + reason);
  }
};

struct App {
  vscclient::PcscSource* source = nullptr;
  Listener* listener = nullptr;
  GMainLoop* loop = nullptr;
};

gboolean on_stdin(GIOChannel* channel, GIOCondition, gpointer data) {
  auto* app = static_cast<App*>(data);
  gchar* raw = nullptr;
  gsize length = 0;
  GIOStatus status = g_io_channel_read_line(channel, &raw, &length, nullptr, nullptr);
  std::string line = raw ? std::string(raw, length) : std::string();
  g_free(raw);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (status == G_IO_STATUS_EOF || line == "quit") {
    g_main_loop_quit(app->loop);
    return G_SOURCE_REMOVE;
  }
  if (line.rfind("apdu ", 0) == 0) {
    auto space = line.find(' ', 5);
    if (space != std::string::npos) {
      auto apdu = vscard::from_hex(line.substr(5, space - 5));
      std::string name = line.substr(space + 1);
      vscclient::SourceReaderId id = 0xFFFFFFFF;
      for (auto& [i, n] : app->listener->names)
        if (n == name) id = i;
      app->source->transmit(id, apdu.value_or(std::vector<std::uint8_t>{}), 65536 + 2,
                            [name](vscclient::ApduResult r) {
                              say(r.ok ? "response " + name + "|" + vscard::to_hex(r.response)
                                       : "error " + name + "|" + r.error);
                            });
    }
  }
  return G_SOURCE_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
  vscclient::PcscSource::Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--pattern" && i + 1 < argc) options.pattern = argv[++i];
    else if (arg == "--exclusive") options.exclusive = true;
    else if (arg == "--first") options.first_reader_only = true;
  }
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  Listener listener;
  vscclient::PcscSource source(options);
  App app{&source, &listener, loop};
  GIOChannel* channel = g_io_channel_unix_new(0);
  guint watch = g_io_add_watch(channel, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP), on_stdin, &app);
  say("ready");
  std::string error;
  if (!source.start(nullptr, listener, &error)) {
    say("source_failed " + error);
    return 1;
  }
  g_main_loop_run(loop);
  source.stop();
  g_source_remove(watch);
  g_io_channel_unref(channel);
  g_main_loop_unref(loop);
  return 0;
}
