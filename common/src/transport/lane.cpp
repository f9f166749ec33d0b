#include "lane.hpp"

#include <isolated/error.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <new>

namespace isolated::detail {

std::uint32_t normalize_lane_capacity(std::size_t requested) noexcept {
  const std::size_t clamped =
      std::clamp<std::size_t>(requested, kMinLaneCapacity, kMaxLaneCapacity);
  return static_cast<std::uint32_t>(clamped & ~(kFrameAlignment - 1));
}

// ---------------------------------------------------------------- producer

void LaneWriter::initialize(std::byte* memory, std::uint32_t capacity, int producer_pid) noexcept {
  auto* header = new (memory) LaneHeader{};
  header->magic = kLaneMagic;
  header->layout_version = kLaneLayoutVersion;
  header->capacity = capacity;
  header->producer_pid = producer_pid;
}

LaneWriter::LaneWriter(std::byte* memory) noexcept
    : header_(std::launder(reinterpret_cast<LaneHeader*>(memory))),
      ring_(memory + kLaneRingOffset),
      capacity_(header_->capacity),
      write_index_(header_->write_index.load(std::memory_order_relaxed)),
      cached_read_index_(header_->read_index.load(std::memory_order_acquire)) {}

std::size_t LaneWriter::bytes_needed(std::size_t payload_length) const noexcept {
  // The frame, plus the gap a wrap marker skips when the frame does not fit
  // before the ring's end.
  const std::size_t size = frame_bytes(payload_length);
  const std::size_t gap = capacity_ - write_index_ % capacity_;
  return gap < size ? gap + size : size;
}

bool LaneWriter::has_room(std::size_t bytes) noexcept {
  if (write_index_ + bytes - cached_read_index_ <= capacity_) return true;
  cached_read_index_ = header_->read_index.load(std::memory_order_acquire);
  return write_index_ + bytes - cached_read_index_ <= capacity_;
}

bool LaneWriter::try_write(FrameKind kind, std::uint16_t flags, std::uint64_t port,
                           std::span<const std::byte> payload) noexcept {
  const std::size_t size = frame_bytes(payload.size());
  const std::size_t position = write_index_ % capacity_;
  const std::size_t gap = capacity_ - position;  // bytes until the ring's end
  const bool wraps = gap < size;
  if (!has_room(bytes_needed(payload.size()))) return false;

  std::uint64_t index = write_index_;
  if (wraps) {
    // Only the first kWrapMarkerBytes of a wrap frame are written or read.
    const FrameHeader marker{0, static_cast<std::uint16_t>(FrameKind::wrap), 0, 0};
    std::memcpy(ring_ + position, &marker, kWrapMarkerBytes);
    index += gap;
  }
  std::byte* out = ring_ + index % capacity_;
  const FrameHeader header{static_cast<std::uint32_t>(payload.size()),
                           static_cast<std::uint16_t>(kind), flags, port};
  std::memcpy(out, &header, sizeof header);
  if (!payload.empty()) std::memcpy(out + sizeof header, payload.data(), payload.size());
  write_index_ = index + size;
  // Release: the frame's bytes (and the wrap marker) become visible with the index.
  header_->write_index.store(write_index_, std::memory_order_release);
  return true;
}

void LaneWriter::wait_for_space(std::size_t bytes, std::chrono::nanoseconds slice) noexcept {
  header_->producer_waiting.store(1, std::memory_order_relaxed);
  const std::uint32_t event = header_->space_event.load(std::memory_order_acquire);
  // Pairs with the fence in LaneReader::wake_producer (see lane.hpp).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!has_room(bytes)) futex_wait(header_->space_event, event, slice);
  header_->producer_waiting.store(0, std::memory_order_relaxed);
}

bool LaneWriter::drained() const noexcept {
  return header_->read_index.load(std::memory_order_acquire) == write_index_;
}

void LaneWriter::wait_until_drained(std::chrono::nanoseconds slice) noexcept {
  header_->producer_waiting.store(1, std::memory_order_relaxed);
  const std::uint32_t event = header_->space_event.load(std::memory_order_acquire);
  // Pairs with the fence in LaneReader::wake_producer (see lane.hpp).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!drained()) futex_wait(header_->space_event, event, slice);
  header_->producer_waiting.store(0, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- consumer

LaneReader::LaneReader(std::byte* memory, std::size_t segment_size) {
  if (segment_size < kLaneRingOffset) {
    throw TransportError("lane segment of " + std::to_string(segment_size) + " bytes is too small");
  }
  header_ = std::launder(reinterpret_cast<LaneHeader*>(memory));
  ring_ = memory + kLaneRingOffset;
  // Copied once: the producer could change the shared field later.
  capacity_ = header_->capacity;
  producer_pid_ = header_->producer_pid;
  if (header_->magic != kLaneMagic || header_->layout_version != kLaneLayoutVersion) {
    throw TransportError("segment is not a lane of this layout version (bad magic or version)");
  }
  if (capacity_ < kMinLaneCapacity || capacity_ > kMaxLaneCapacity ||
      capacity_ % kFrameAlignment != 0 || lane_segment_bytes(capacity_) > segment_size) {
    throw TransportError("lane declares a capacity of " + std::to_string(capacity_) +
                " bytes that its segment of " + std::to_string(segment_size) +
                " bytes cannot hold");
  }
  // A fresh lane starts at 0; the consumer never trusts the shared copy.
  read_index_ = 0;
}

bool LaneReader::has_frames() const noexcept {
  return !closed() && header_->write_index.load(std::memory_order_acquire) != read_index_;
}

LaneReader::Next LaneReader::fail(std::string reason) {
  fault_ = std::move(reason);
  pending_bytes_ = 0;
  return Next::corrupt;
}

FrameAtResult read_frame_at(const std::byte* ring, std::uint32_t capacity, std::uint64_t read_index,
                            std::uint64_t write_index, FrameAt& at, std::string& fault) {
  const auto fail = [&](std::string reason) {
    fault = std::move(reason);
    return FrameAtResult::corrupt;
  };
  if (write_index == read_index) return FrameAtResult::empty;
  if (write_index < read_index || write_index - read_index > capacity ||
      write_index % kFrameAlignment != 0) {
    return fail("write index " + std::to_string(write_index) + " is outside the ring (read index " +
                std::to_string(read_index) + ", capacity " + std::to_string(capacity) + ")");
  }
  const std::uint64_t available = write_index - read_index;
  const std::size_t position = read_index % capacity;
  at.position = position;

  FrameHeader& header = at.header;
  header = FrameHeader{};
  std::memcpy(&header, ring + position, kWrapMarkerBytes);
  if (header.kind == static_cast<std::uint16_t>(FrameKind::wrap)) {
    const std::size_t gap = capacity - position;
    if (position == 0 || gap > available) {
      return fail("wrap frame at ring offset " + std::to_string(position) +
                  " skips bytes that were never published");
    }
    at.bytes = gap;
    return FrameAtResult::wrap;
  }

  if (available < sizeof header || capacity - position < sizeof header) {
    return fail("truncated frame header at ring offset " + std::to_string(position));
  }
  std::memcpy(&header, ring + position, sizeof header);
  switch (static_cast<FrameKind>(header.kind)) {
    case FrameKind::message:
    case FrameKind::control:
    case FrameKind::out_of_line: break;
    default: return fail("unknown frame kind " + std::to_string(header.kind));
  }
  if (header.length > max_inline_payload(capacity)) {
    return fail("frame length " + std::to_string(header.length) + " exceeds the lane's limit of " +
                std::to_string(max_inline_payload(capacity)));
  }
  const std::size_t size = frame_bytes(header.length);
  if (size > available) {
    return fail("frame of " + std::to_string(size) + " bytes runs past the published data");
  }
  if (position + size > capacity) {
    return fail("frame of " + std::to_string(size) + " bytes crosses the end of the ring");
  }
  at.bytes = size;
  return FrameAtResult::frame;
}

LaneReader::Next LaneReader::next(Frame& frame) {
  if (closed()) return Next::corrupt;
  if (cached_write_index_ == read_index_) {
    // Acquire: pairs with the producer's release store, so the bytes are there.
    cached_write_index_ = header_->write_index.load(std::memory_order_acquire);
  }
  for (;;) {
    FrameAt at{};
    std::string fault;
    switch (read_frame_at(ring_, capacity_, read_index_, cached_write_index_, at, fault)) {
      case FrameAtResult::empty: return Next::empty;
      case FrameAtResult::corrupt: return fail(std::move(fault));
      case FrameAtResult::wrap:
        read_index_ += at.bytes;
        header_->read_index.store(read_index_, std::memory_order_release);
        continue;
      case FrameAtResult::frame: break;
    }
    frame.kind = static_cast<FrameKind>(at.header.kind);
    frame.flags = at.header.flags;
    frame.port = at.header.port;
    frame.payload = std::span(ring_ + at.position + sizeof(FrameHeader), at.header.length);
    pending_bytes_ = at.bytes;
    return Next::frame;
  }
}

void LaneReader::consume() noexcept {
  read_index_ += pending_bytes_;
  pending_bytes_ = 0;
  // Release: we are done reading the bytes before this index.
  header_->read_index.store(read_index_, std::memory_order_release);
}

void LaneReader::wake_producer() noexcept {
  if (header_ == nullptr) return;
  // Pairs with the fence in LaneWriter::wait_for_space (see lane.hpp).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (header_->producer_waiting.load(std::memory_order_relaxed) != 0) {
    header_->space_event.fetch_add(1, std::memory_order_release);
    futex_wake(header_->space_event, 1);
  }
}

}  // namespace isolated::detail
