// Big-endian integers, the byte order of msgpack's numbers and of isolated's
// extension payloads.
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstring>

namespace isolated::detail {

// Reverses the bytes on little-endian machines. Done on a register and then
// stored in one piece: writing a value byte by byte and reading it back whole
// stalls the CPU (failed store forwarding).
template <std::unsigned_integral T>
  requires(sizeof(T) <= 8)
constexpr T to_big_endian(T value) noexcept {
  if constexpr (std::endian::native == std::endian::big) {
    return value;
  } else if constexpr (sizeof(T) == 8) {
    return __builtin_bswap64(value);  // C++23's std::byteswap; GCC and Clang have it
  } else if constexpr (sizeof(T) == 4) {
    return __builtin_bswap32(value);
  } else if constexpr (sizeof(T) == 2) {
    return __builtin_bswap16(value);
  } else {
    return value;
  }
}

template <std::unsigned_integral T>
void store_big_endian(T value, char* out) noexcept {
  const T stored = to_big_endian(value);
  std::memcpy(out, &stored, sizeof stored);
}

template <std::unsigned_integral T>
T load_big_endian(const char* in) noexcept {
  T stored;
  std::memcpy(&stored, in, sizeof stored);
  return to_big_endian(stored);  // the swap is its own inverse
}

}  // namespace isolated::detail
