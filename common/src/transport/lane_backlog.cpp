#include "lane_backlog.hpp"

#include "frame.hpp"
#include "lane.hpp"

#include <isolated/error.hpp>

#include <array>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

namespace isolated::detail {
namespace {

// Walks retried when the consumer moved on under us; then the error stands.
constexpr int kAttempts = 4;

template <class T>
T field_at(const std::array<std::byte, kLaneRingOffset>& header, std::size_t offset) {
  T value{};
  std::memcpy(&value, header.data() + offset, sizeof value);
  return value;
}

struct Indices {
  std::uint64_t read;
  std::uint64_t write;
};

Indices read_indices(const SegmentReader& lane) {
  std::array<std::byte, kLaneRingOffset> header{};
  lane.read_exactly(0, header);
  return {field_at<std::uint64_t>(header, offsetof(LaneHeader, read_index)),
          field_at<std::uint64_t>(header, offsetof(LaneHeader, write_index))};
}

// The lane's capacity after checking its header against the segment.
std::uint32_t checked_capacity(const SegmentReader& lane) {
  if (lane.size() < kLaneRingOffset) {
    throw TransportError("lane segment of " + std::to_string(lane.size()) + " bytes is too small");
  }
  std::array<std::byte, kLaneRingOffset> header{};
  lane.read_exactly(0, header);
  if (field_at<std::uint64_t>(header, offsetof(LaneHeader, magic)) != kLaneMagic ||
      field_at<std::uint32_t>(header, offsetof(LaneHeader, layout_version)) != kLaneLayoutVersion) {
    throw TransportError("not a lane of this layout version (bad magic or version)");
  }
  const auto capacity = field_at<std::uint32_t>(header, offsetof(LaneHeader, capacity));
  if (capacity < kMinLaneCapacity || capacity > kMaxLaneCapacity ||
      capacity % kFrameAlignment != 0 || lane_segment_bytes(capacity) > lane.size()) {
    throw TransportError("lane declares a capacity of " + std::to_string(capacity) +
                " bytes that its segment of " + std::to_string(lane.size()) + " bytes cannot hold");
  }
  return capacity;
}

// Counts the frames in [indices.read, indices.write), checking each as
// LaneReader::next does. Returns nothing, with `why` set, on the first frame
// that does not hold up.
std::optional<LaneBacklog> walk_frames(const SegmentReader& lane, std::uint32_t capacity,
                                       Indices indices, std::string& why) {
  if (indices.write < indices.read || indices.write - indices.read > capacity ||
      indices.read % kFrameAlignment != 0 || indices.write % kFrameAlignment != 0) {
    why = "indices outside the ring (read " + std::to_string(indices.read) + ", write " +
          std::to_string(indices.write) + ", capacity " + std::to_string(capacity) + ")";
    return std::nullopt;
  }
  LaneBacklog backlog{0, indices.write - indices.read};
  for (std::uint64_t index = indices.read; index < indices.write;) {
    const std::uint64_t available = indices.write - index;
    const std::size_t position = static_cast<std::size_t>(index % capacity);
    FrameHeader header{};
    auto header_bytes = std::as_writable_bytes(std::span(&header, 1));
    lane.read_exactly(kLaneRingOffset + position, header_bytes.first(kWrapMarkerBytes));
    if (header.kind == static_cast<std::uint16_t>(FrameKind::wrap)) {
      const std::size_t gap = capacity - position;
      if (position == 0 || gap > available) {
        why = "wrap frame at ring offset " + std::to_string(position) + " skips unpublished bytes";
        return std::nullopt;
      }
      index += gap;
      continue;
    }
    if (available < sizeof header || capacity - position < sizeof header) {
      why = "truncated frame header at ring offset " + std::to_string(position);
      return std::nullopt;
    }
    lane.read_exactly(kLaneRingOffset + position, header_bytes);
    const auto kind = static_cast<FrameKind>(header.kind);
    const std::size_t size = frame_bytes(header.length);
    if ((kind != FrameKind::message && kind != FrameKind::control &&
         kind != FrameKind::out_of_line) ||
        header.length > max_inline_payload(capacity) || size > available ||
        position + size > capacity) {
      why = "malformed frame at ring offset " + std::to_string(position) + " (kind " +
            std::to_string(header.kind) + ", length " + std::to_string(header.length) + ")";
      return std::nullopt;
    }
    ++backlog.frames;
    index += size;
  }
  return backlog;
}

}  // namespace

LaneBacklog read_lane_backlog(const SegmentReader& lane) {
  const std::uint32_t capacity = checked_capacity(lane);
  std::string why;
  Indices indices = read_indices(lane);
  for (int attempt = 1;; ++attempt) {
    if (auto backlog = walk_frames(lane, capacity, indices, why)) return *backlog;
    // The consumer may have released (and the producer overwritten) the
    // frames we were walking: that is only a fault if the read index stood still.
    const Indices now = read_indices(lane);
    if (now.read == indices.read || attempt == kAttempts) break;
    indices = now;
  }
  throw TransportError("lane " + why);
}

}  // namespace isolated::detail
