// A lane in a real shared-memory segment, with both of its ends, for tests
// that drive the ring directly.
#pragma once

#include "common/src/shm/segment.hpp"
#include "common/src/transport/lane.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace isolated::test {

struct LaneFixture {
  explicit LaneFixture(std::uint32_t capacity = detail::kMinLaneCapacity)
      : segment(detail::Segment::create(detail::SegmentKind::lane,
                                        detail::lane_segment_bytes(capacity))) {
    detail::LaneWriter::initialize(segment.data(), capacity, static_cast<int>(::getpid()));
    writer = detail::LaneWriter(segment.data());
    reader = detail::LaneReader(segment.data(), segment.size());
  }

  detail::LaneHeader& header() { return *reinterpret_cast<detail::LaneHeader*>(segment.data()); }
  std::byte* ring() { return segment.data() + detail::kLaneRingOffset; }

  detail::Segment segment;
  detail::LaneWriter writer;
  detail::LaneReader reader;
};

// Deterministic payload bytes: frame `seed`'s byte i.
inline std::vector<std::byte> pattern(std::size_t size, std::uint64_t seed) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<std::byte>((seed * 131 + i * 7 + (i >> 8)) & 0xff);
  }
  return bytes;
}

inline bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace isolated::test
