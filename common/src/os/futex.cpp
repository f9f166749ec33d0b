#include "futex.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>

namespace isolated::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept {
  if (timeout <= std::chrono::nanoseconds::zero()) return;
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec relative{};
  relative.tv_sec = static_cast<time_t>(secs.count());
  relative.tv_nsec = static_cast<long>((timeout - secs).count());
  // EINTR, EAGAIN (the word changed) and ETIMEDOUT all mean "look again",
  // which every caller does in its own loop.
  ::syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(&word), FUTEX_WAIT, expected,
            &relative, nullptr, 0);
}

void futex_wake(const std::atomic<std::uint32_t>& word, int count) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(&word), FUTEX_WAKE, count, nullptr,
            nullptr, 0);
}

namespace {

// A yield longer than this gave the CPU to another thread: a bare
// sched_yield that finds nothing else to run costs well under a microsecond.
constexpr auto kYieldThatRanSomebody = std::chrono::microseconds(1);
// Quick yields in a row that end the eager mode.
constexpr int kQuickYieldsToCalmDown = 256;

thread_local bool yield_eagerly = false;
thread_local int quick_yields = 0;

}  // namespace

bool SpinStep::yielding_eagerly() noexcept { return yield_eagerly; }

void SpinStep::yield() noexcept {
  const auto before = std::chrono::steady_clock::now();
  ::sched_yield();
  if (std::chrono::steady_clock::now() - before > kYieldThatRanSomebody) {
    yield_eagerly = true;
    quick_yields = 0;
  } else if (yield_eagerly && ++quick_yields >= kQuickYieldsToCalmDown) {
    yield_eagerly = false;
  }
}

}  // namespace isolated::detail
