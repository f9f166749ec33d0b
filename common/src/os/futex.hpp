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

// One step of a spin-wait. Mostly a pause instruction; every 64th step gives
// the CPU away (sched_yield), because the peer we wait for may be runnable on
// this very CPU, and then spinning only delays it. Across CPUs the yield costs
// nothing measurable.
//
// It learns, per thread, when that is so: a yield that took long means
// another thread ran on this CPU meanwhile (the peer, or any other), and then
// every step yields until yields come back quickly again. So two isolates on
// one CPU hand over at the cost of a context switch, not 64 pauses, while
// isolates on two CPUs keep spinning on pauses.
class SpinStep {
 public:
  void operator()() noexcept {
    if (++count_ % 64 == 0 || yielding_eagerly()) {
      yield();
    } else {
      cpu_relax();
    }
  }

 private:
  static bool yielding_eagerly() noexcept;
  static void yield() noexcept;
  unsigned count_ = 0;
};

}  // namespace isolated::detail
