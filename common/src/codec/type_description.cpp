// The friendly type names MessageTypeError shows: what a message holds
// ("list<int>", "map<string, int | nil>") and what was asked for.
#include "object_kind.hpp"
#include "common/src/os/demangle.hpp"

#include <isolated/error.hpp>
#include <isolated/message.hpp>

#include <msgpack.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace isolated::detail {
namespace {

std::string describe(const msgpack::object& object, int depth);

// "int", "int | string": the distinct names of `count` objects, at most three.
template <class ObjectAt>
std::string describe_each(std::uint32_t count, ObjectAt object_at, int depth) {
  constexpr std::size_t kMostNames = 3;
  std::vector<std::string> names;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string name = describe(object_at(i), depth);
    if (std::find(names.begin(), names.end(), name) != names.end()) continue;
    if (names.size() == kMostNames) {
      names.push_back("...");
      break;
    }
    names.push_back(std::move(name));
  }
  std::string joined;
  for (const auto& name : names) joined += (joined.empty() ? "" : " | ") + name;
  return joined;
}

// The friendly type of `object`, looking `depth` levels into lists and maps:
// "list<int>", "map<string, int | nil>".
std::string describe(const msgpack::object& object, int depth) {
  const MessageKind kind = kind_of(object);
  const std::string name(to_string(kind));
  if (kind == MessageKind::array && depth > 0 && object.via.array.size > 0) {
    const msgpack::object* elements = object.via.array.ptr;
    const auto element = [&](std::uint32_t i) -> const msgpack::object& { return elements[i]; };
    return name + "<" + describe_each(object.via.array.size, element, depth - 1) + ">";
  }
  if (kind == MessageKind::map && depth > 0 && object.via.map.size > 0) {
    const msgpack::object_kv* entries = object.via.map.ptr;
    const auto key = [&](std::uint32_t i) -> const msgpack::object& { return entries[i].key; };
    const auto value = [&](std::uint32_t i) -> const msgpack::object& { return entries[i].val; };
    return name + "<" + describe_each(object.via.map.size, key, depth - 1) + ", " +
           describe_each(object.via.map.size, value, depth - 1) + ">";
  }
  return name;
}

}  // namespace

std::string demangled_name(const char* mangled) { return demangle(mangled); }

void throw_type_mismatch(const msgpack::object& found, const std::string& asked,
                         const char* cxx_name) {
  const std::string holds = describe(found, 2);
  if (holds != asked) throw MessageTypeError("message holds " + holds + ", not " + asked);
  // Same friendly name: a number that does not fit the C++ type asked for.
  std::string value;
  if (found.type == msgpack::type::POSITIVE_INTEGER) value = " " + std::to_string(found.via.u64);
  if (found.type == msgpack::type::NEGATIVE_INTEGER) value = " " + std::to_string(found.via.i64);
  throw MessageTypeError("message holds " + holds + value + ", which does not fit in " +
                         demangled_name(cxx_name));
}

}  // namespace isolated::detail
