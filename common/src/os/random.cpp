#include "random.hpp"

#include "syscall.hpp"

#include <sys/random.h>

#include <vector>

namespace isolated::detail {

void fill_random(std::span<std::byte> out) {
  std::size_t filled = 0;
  while (filled < out.size()) {
    const auto got = checked("getrandom",
                             [&] { return ::getrandom(out.data() + filled, out.size() - filled, 0); });
    filled += static_cast<std::size_t>(got);
  }
}

std::string random_hex(std::size_t byte_count) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::vector<std::byte> bytes(byte_count);
  fill_random(bytes);
  std::string hex;
  hex.reserve(2 * byte_count);
  for (const std::byte b : bytes) {
    const auto v = std::to_integer<unsigned>(b);
    hex.push_back(kDigits[v >> 4]);
    hex.push_back(kDigits[v & 0xf]);
  }
  return hex;
}

}  // namespace isolated::detail
