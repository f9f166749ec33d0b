// The only atomic type allowed in shared memory. Processes map the same bytes
// at different addresses and may be built differently, so an atomic there must
// be lock-free (no hidden lock in one process's address space) and exactly the
// size of its value.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace isolated::detail {

template <class T>
struct SharedAtomic : std::atomic<T> {
  static_assert(std::atomic<T>::is_always_lock_free,
                "an atomic in shared memory must be lock-free in every process");
  static_assert(sizeof(std::atomic<T>) == sizeof(T));
  using std::atomic<T>::atomic;
  using std::atomic<T>::operator=;
};

static_assert(std::is_standard_layout_v<SharedAtomic<std::uint64_t>>);

// Every producer/consumer-owned field sits on its own cache line.
inline constexpr std::size_t kCacheLine = 64;

}  // namespace isolated::detail
