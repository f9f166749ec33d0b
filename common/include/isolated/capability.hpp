// Capability: an unforgeable token, as in Dart. Whoever holds the capability an
// isolate was made with may pause or kill it; a control command that carries any
// other capability is ignored (DESIGN §5, §11).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>

namespace isolated {

class Capability {
 public:
  static constexpr std::size_t kSize = 16;
  using Bytes = std::array<std::byte, kSize>;

  // A fresh capability: 128 bits from getrandom(2), so it equals no other
  // capability made anywhere. Costs one system call; throws isolated::Error if
  // the kernel refuses.
  Capability();

  // The capability whose bits are `bytes` (how a received one is rebuilt).
  static Capability from_bytes(std::span<const std::byte, kSize> bytes) noexcept;

  Bytes bytes() const noexcept { return bytes_; }

  // Compares every byte whatever the first difference, so the time a check
  // takes tells a forger nothing about how close a guess was.
  friend bool operator==(const Capability& a, const Capability& b) noexcept {
    unsigned difference = 0;
    for (std::size_t i = 0; i < kSize; ++i) {
      difference |= std::to_integer<unsigned>(a.bytes_[i] ^ b.bytes_[i]);
    }
    return difference == 0;
  }

 private:
  struct FromBytes {};
  Capability(FromBytes, std::span<const std::byte, kSize> bytes) noexcept;

  Bytes bytes_;
};

}  // namespace isolated

// The bits are uniformly random already, so any eight of them are a good hash.
template <>
struct std::hash<isolated::Capability> {
  std::size_t operator()(const isolated::Capability& capability) const noexcept {
    const auto bytes = capability.bytes();
    std::uint64_t h = 0;
    std::memcpy(&h, bytes.data(), sizeof h);
    return static_cast<std::size_t>(h);
  }
};
