// Looking up what ISOLATED_EXPORT registered.
#pragma once

#include <isolated/detail/exports.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace isolated::detail {

struct Export {
  RunnerTrampoline trampoline = nullptr;
  AnyFunction target = nullptr;
};

// The function exported as `name`; nothing if there is none.
std::optional<Export> find_export(std::string_view name);

// Every exported name, sorted and comma-separated ("none" if empty), for
// error messages.
std::string exported_names();

}  // namespace isolated::detail
