// What a lane holds that its consumer has not taken yet, seen from outside
// (for isolated-ps): the frames between the read index and the write index.
//
// The lane is read through a SegmentReader (a copy, never a mapping) and
// checked as LaneReader checks it, because its producer may be hostile. Both
// ends keep running while we look, so a walk that trips over a frame the
// consumer has just released is retried from the new read index.
#pragma once

#include "common/src/shm/segment_reader.hpp"

#include <cstdint>

namespace isolated::detail {

struct LaneBacklog {
  std::uint64_t frames = 0;  // messages, control and out-of-line frames
  std::uint64_t bytes = 0;   // ring bytes not consumed: frames, padding, wrap gaps
};

// Counts the frames published to `lane` and not consumed yet. Throws
// isolated::Error if the segment is not a lane of this layout, or its indices
// or frames do not hold up.
LaneBacklog read_lane_backlog(const SegmentReader& lane);

}  // namespace isolated::detail
