// Futex wait and wake on 32-bit words that live in shared memory, so the
// calls use the shared (not the process-private) futex variant.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace isolated::detail {

// Sleeps while *word == expected, at most `timeout`. Returns early on a wake,
// a signal, or when the word already differs. Never throws.
void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept;

// Wakes up to `count` waiters of `word`.
void futex_wake(const std::atomic<std::uint32_t>& word, int count) noexcept;

// A hint to the CPU that we are in a spin-wait loop.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace isolated::detail
