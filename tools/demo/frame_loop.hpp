// A 60 Hz frame loop, like a UI's main thread: each frame does a little work,
// then sleeps until the next one is due. A frame that takes longer than the
// 16.7 ms budget is janky: the user sees a stutter.
#pragma once

#include <chrono>
#include <functional>

namespace demo {

struct FrameStats {
  int frames = 0;
  int janky = 0;    // frames over the 16.7 ms budget
  int dropped = 0;  // screen refreshes those frames missed
  double worst_ms = 0;
  double result_ms = 0;  // from the start until `step` reported done
};

// Runs frames until `step` (called once per frame, on this thread) returns
// true, then `tail` frames more.
FrameStats run_frames(const std::function<bool()>& step, int tail = 10);

}  // namespace demo
