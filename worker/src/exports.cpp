#include "exports.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

namespace isolated::detail {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, Export, std::less<>> exports;
};

// A function-local static: exports register from static initializers of any
// translation unit, in any order.
Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

void register_export(std::string_view name, RunnerTrampoline trampoline, AnyFunction target) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (!r.exports.emplace(std::string(name), Export{trampoline, target}).second) {
    std::fprintf(stderr,
                 "isolated: ISOLATED_EXPORT(\"%.*s\", ...) appears twice in this program; "
                 "give each exported function its own name\n",
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
}

std::optional<Export> find_export(std::string_view name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const auto found = r.exports.find(name);
  if (found == r.exports.end()) return std::nullopt;
  return found->second;
}

std::string exported_names() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::string names;
  for (const auto& [name, function] : r.exports) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  return names.empty() ? "none" : names;
}

}  // namespace isolated::detail
