// SPDX-License-Identifier: LGPL-2.1-or-later
// Overloaded: one lambda per alternative when visiting an event variant.
//
//   std::visit(vscard::Overloaded{
//                  [&](const vscard::client_event::ApduReceived& e) { answer(e); },
//                  [&](const auto&) {},
//              },
//              event);
#pragma once

namespace vscard {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// clang 14 (the fuzz build) lacks C++20 aggregate deduction; g++ does not need it.
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace vscard
