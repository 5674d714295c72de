// SPDX-License-Identifier: LGPL-2.1-or-later
#include "script_file.h"

#include <glib.h>

namespace vschost {

// Scripts are small; a file this big is a mistake (a binary or a log), not a script.
constexpr gsize kMaxScriptSize = 4 * 1024 * 1024;

std::optional<Script> load_script(const std::string& path, std::string& error) {
  gchar* contents = nullptr;
  gsize length = 0;
  GError* gerror = nullptr;
  if (!g_file_get_contents(path.c_str(), &contents, &length, &gerror)) {
    error = std::string("cannot read the script: ") + gerror->message;
    g_error_free(gerror);
    return std::nullopt;
  }
  std::string text(contents, length);
  g_free(contents);
  if (length > kMaxScriptSize) {
    error = path + ": larger than 4 MiB; is this really a script?";
    return std::nullopt;
  }
  ParseResult r = parse_script(text);
  if (auto* e = std::get_if<ScriptError>(&r)) {
    error = format_error(path, *e);
    return std::nullopt;
  }
  auto& script = std::get<Script>(r);
  if (script.steps.empty()) {
    error = path + ": the script has no steps";
    return std::nullopt;
  }
  return std::move(script);
}

}  // namespace vschost
