// Waiting in tests: every wait has a deadline, scaled by the build's
// ISOLATED_TEST_TIMEOUT_SCALE (tests/CMakeLists.txt: larger in sanitizer
// builds, the same scale CTest's timeouts get). Nothing asserts on how long
// something took; a deadline only keeps a failing test from hanging.
#pragma once

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <thread>

namespace isolated::test {

#ifndef ISOLATED_TEST_TIMEOUT_SCALE
#error "tests are built with ISOLATED_TEST_TIMEOUT_SCALE (tests/CMakeLists.txt)"
#endif

inline constexpr int kTimeoutScale = ISOLATED_TEST_TIMEOUT_SCALE;

inline std::chrono::milliseconds deadline_of(std::chrono::milliseconds base) {
  return base * kTimeoutScale;
}

// Polls `done` until it holds or `timeout` (scaled) passes.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + deadline_of(timeout);
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Whether the future is ready within `timeout` (scaled).
template <class T>
bool ready(std::future<T>& future, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return future.wait_for(deadline_of(timeout)) == std::future_status::ready;
}

inline bool process_gone(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace isolated::test
