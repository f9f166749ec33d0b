#include "environment.hpp"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace isolated::detail {

std::optional<long> environment_number(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr) return std::nullopt;
  const std::string_view view(text);
  long value = 0;
  const auto [end, err] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (err != std::errc() || end != view.data() + view.size() || value < 0) return std::nullopt;
  return value;
}

}  // namespace isolated::detail
