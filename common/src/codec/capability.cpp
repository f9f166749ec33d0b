#include <isolated/capability.hpp>

#include "common/src/os/random.hpp"

#include <algorithm>

namespace isolated {

Capability::Capability() {
  detail::fill_random(bytes_);
}

Capability::Capability(FromBytes, std::span<const std::byte, kSize> bytes) noexcept {
  std::copy(bytes.begin(), bytes.end(), bytes_.begin());
}

Capability Capability::from_bytes(std::span<const std::byte, kSize> bytes) noexcept {
  return Capability(FromBytes{}, bytes);
}

}  // namespace isolated
