// TransferableTypedData: a block of bytes that moves between isolates without
// being copied (DESIGN §7; Dart's TransferableTypedData). The block lives in
// a shared-memory segment: allocate(n) maps it for writing, so a sender can
// fill it in place; sending the handle sends the segment's name, and the
// receiver maps the same pages.
//
// Sending moves the handle: once a send (or spawn, or compute) has gone
// through, the sender's handle is empty; if it failed, the sender keeps it.
// The receiver takes the block out of the message with as<>() (once), and
// materialize() turns it into a ByteBuffer, an owning view: O(1), no copy.
#pragma once

#include <isolated/detail/transferable_ref.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace isolated {

// The bytes of a materialized block; owns the mapping. Move-only.
class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(ByteBuffer&&) noexcept = default;
  ByteBuffer& operator=(ByteBuffer&&) noexcept = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  const std::uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::span<const std::uint8_t> span() const noexcept { return {data_, size_}; }

 private:
  friend class TransferableTypedData;
  std::shared_ptr<const void> owner_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

class TransferableTypedData {
 public:
  // An empty handle: holds no block.
  TransferableTypedData() noexcept;
  TransferableTypedData(TransferableTypedData&&) noexcept;
  TransferableTypedData& operator=(TransferableTypedData&&) noexcept;
  TransferableTypedData(const TransferableTypedData&) = delete;
  TransferableTypedData& operator=(const TransferableTypedData&) = delete;
  // Frees the block, unless it was sent.
  ~TransferableTypedData();

  // A block of `size` zero bytes in shared memory, writable through bytes():
  // write the data in place, send it, and nothing is ever copied.
  static TransferableTypedData allocate(std::size_t size);
  // A block holding a copy of `bytes` (Dart's fromList): one copy.
  static TransferableTypedData from(std::span<const std::uint8_t> bytes);

  // The block's bytes, writable; empty for an empty handle.
  std::span<std::uint8_t> bytes() noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }
  // True for a handle that holds no block: default-constructed, sent away, or
  // materialized.
  bool empty() const noexcept { return block_ == nullptr; }

  // The block as a ByteBuffer: O(1), no copy. Allowed once: afterwards the
  // handle is empty, and a second call throws isolated::Error, as in Dart.
  ByteBuffer materialize();

  // What a message carries for it. Throws isolated::Error if empty.
  detail::TransferableRef ref() const;

  struct Block;  // the mapped segment; defined in transferable.cpp

 private:
  friend struct TransferableAccess;
  explicit TransferableTypedData(std::shared_ptr<Block> block) noexcept;

  std::shared_ptr<Block> block_;
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

namespace detail {

// Sends of a message hand over the transferables in it only once the send
// went through. A TransferScope collects the handles packed on this thread
// while it lives; commit() empties them (their blocks now belong to the
// receiver). Without a commit, they stay with the sender.
class TransferScope {
 public:
  TransferScope() noexcept;
  ~TransferScope();
  TransferScope(const TransferScope&) = delete;
  TransferScope& operator=(const TransferScope&) = delete;
  void commit() noexcept;

 private:
  std::size_t mark_;
};

// Called by the packer for every handle it writes.
void note_packed(const TransferableTypedData& handle);

// The block named by `ref`, taken out of the message being read on this
// thread (see message.hpp). Throws isolated::Error if it was taken already
// or is gone.
TransferableTypedData take_transferable(const TransferableRef& ref);

}  // namespace detail
}  // namespace isolated
