#include "frame_loop.hpp"

#include <algorithm>
#include <thread>

namespace demo {

FrameStats run_frames(const std::function<bool()>& step, int tail) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kBudget = std::chrono::microseconds(16667);
  FrameStats stats;
  const auto start = Clock::now();
  auto frame_start = start;
  bool done = false;
  int after_done = 0;
  while (!done || after_done < tail) {
    if (!done && step()) {
      done = true;
      stats.result_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    } else if (done) {
      ++after_done;
    }
    // Sleep until the next frame is due; a frame that overran starts the
    // next one at once.
    std::this_thread::sleep_until(frame_start + kBudget);
    const auto now = Clock::now();
    const double frame_ms = std::chrono::duration<double, std::milli>(now - frame_start).count();
    ++stats.frames;
    if (now - frame_start > kBudget + std::chrono::milliseconds(1)) {
      ++stats.janky;
      stats.dropped += static_cast<int>((now - frame_start) / kBudget) - 1 +
                       ((now - frame_start) % kBudget > std::chrono::milliseconds(1) ? 1 : 0);
    }
    stats.worst_ms = std::max(stats.worst_ms, frame_ms);
    frame_start = now;
  }
  return stats;
}

}  // namespace demo
