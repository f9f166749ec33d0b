// The storage of received messages (detail/message_storage.hpp), recycled.
//
// A decoded message needs a msgpack zone for its object tree and, unless the
// caller keeps its buffer alive, a private copy of its bytes (it may come
// from memory its sender can still write). Both go into one zone whose first
// chunk is sized for them. Released storage is cleared (the zone keeps that
// first chunk) and kept in a free list of its size class, so a stream of
// messages reuses a handful of storages instead of allocating two blocks per
// message. The free lists are bounded; storage beyond them, or larger than
// the largest class, is freed.
//
// Thread-safety: acquire and release from any thread (one mutex per class,
// held for a pointer push or pop).
#pragma once

#include <isolated/detail/message_storage.hpp>

#include <msgpack.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace isolated::detail {

struct MessageStorage {
  explicit MessageStorage(std::size_t chunk_bytes, int size_class)
      : zone(chunk_bytes), size_class(size_class) {}

  std::atomic<std::uint32_t> references{1};
  std::shared_ptr<const void> keep_alive;  // the caller's buffer, when not copied
  msgpack::zone zone;                      // the object tree, and the copy if made
  const int size_class;                    // -1: not pooled
};

// Storage whose zone's first chunk holds at least `bytes`, with one
// reference (for a StorageRef to adopt).
MessageStorage* acquire_storage(std::size_t bytes);

}  // namespace isolated::detail
