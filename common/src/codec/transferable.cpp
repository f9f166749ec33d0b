#include <isolated/detail/transfer_table.hpp>
#include <isolated/detail/transferable_adaptors.hpp>
#include <isolated/error.hpp>
#include <isolated/transferable.hpp>

#include "common/src/shm/segment.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace isolated {

struct TransferableTypedData::Block {
  detail::Segment segment;
  std::size_t size = 0;
  // Whether the segment still has its name. A received block has none (the
  // receiver unlinked it on arrival), so sending it on needs a fresh segment.
  bool named = true;
};

namespace {

using Block = TransferableTypedData::Block;

// Unmapping a large block that was written takes time in proportion to its
// size (the kernel tears down page tables, and the last unmap frees the
// pages). Neither a sender handing a block over nor a receiver dropping one
// should pay that on its way: big blocks are unmapped here, on a thread of
// their own. Their names are unlinked at once, before they are queued.
constexpr std::size_t kRetireAbove = 1 << 20;

class Retirement {
 public:
  static void retire(Block* block) {
    static Retirement* retirement = new Retirement();  // lives as long as the process
    {
      std::lock_guard lock(retirement->mutex_);
      retirement->blocks_.emplace_back(block);
    }
    retirement->wake_.notify_one();
  }

 private:
  Retirement() {
    std::thread([this] {
      // Idle priority: the unmapping runs only when nothing else wants the
      // CPU, so it never delays the thread that is waiting for a reply.
      const sched_param idle{};
      pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
      for (;;) {
        std::vector<std::unique_ptr<Block>> batch;
        {
          std::unique_lock lock(mutex_);
          wake_.wait(lock, [&] { return !blocks_.empty(); });
          batch.swap(blocks_);
        }
        batch.clear();  // unmaps, outside the lock
      }
    }).detach();
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::unique_ptr<Block>> blocks_;
};

void release_block(Block* block) {
  if (block->segment.owns_name()) block->segment.unlink();
  if (block->size > kRetireAbove) {
    Retirement::retire(block);
  } else {
    delete block;
  }
}

std::shared_ptr<Block> new_block() { return std::shared_ptr<Block>(new Block, &release_block); }

}  // namespace

// Builds handles from blocks (the constructor is private).
struct TransferableAccess {
  static TransferableTypedData make(std::shared_ptr<TransferableTypedData::Block> block) {
    return TransferableTypedData(std::move(block));
  }
  static void hand_over(TransferableTypedData& handle) noexcept {
    // The receiver unlinks the name once it has mapped the block.
    handle.block_->segment.release_name();
    handle.block_.reset();
    handle.data_ = nullptr;
    handle.size_ = 0;
  }
};

TransferableTypedData::TransferableTypedData() noexcept = default;
TransferableTypedData::TransferableTypedData(TransferableTypedData&&) noexcept = default;
TransferableTypedData& TransferableTypedData::operator=(TransferableTypedData&&) noexcept = default;
TransferableTypedData::~TransferableTypedData() = default;  // the Segment unlinks what it owns

TransferableTypedData::TransferableTypedData(std::shared_ptr<Block> block) noexcept
    : block_(std::move(block)),
      data_(reinterpret_cast<std::uint8_t*>(block_->segment.data())),
      size_(block_->size) {}

TransferableTypedData TransferableTypedData::allocate(std::size_t size) {
  auto block = new_block();
  // A segment cannot be empty; an empty block still has a name to send.
  block->segment = detail::Segment::create(detail::SegmentKind::transferable, std::max<std::size_t>(size, 1));
  block->size = size;
  return TransferableTypedData(std::move(block));
}

TransferableTypedData TransferableTypedData::from(std::span<const std::uint8_t> bytes) {
  TransferableTypedData handle = allocate(bytes.size());
  if (!bytes.empty()) std::memcpy(handle.data_, bytes.data(), bytes.size());
  return handle;
}

ByteBuffer TransferableTypedData::materialize() {
  if (empty()) {
    throw UsageError(
        "materialize() on an empty TransferableTypedData: it was materialized or sent already "
        "(a block can be materialized once)");
  }
  ByteBuffer buffer;
  buffer.data_ = data_;
  buffer.size_ = size_;
  buffer.owner_ = std::move(block_);
  data_ = nullptr;
  size_ = 0;
  return buffer;
}

detail::TransferableRef TransferableTypedData::ref() const {
  if (empty()) {
    throw UsageError(
        "cannot send an empty TransferableTypedData: it was sent or materialized already");
  }
  if (!block_->named) {
    // Sending on a block that was received: its name is gone, and a POSIX
    // shared-memory segment cannot be named again, so it moves to a fresh
    // segment (the one copy of a forwarded block).
    detail::Segment fresh = detail::Segment::create(detail::SegmentKind::transferable,
                                                    std::max<std::size_t>(block_->size, 1));
    if (block_->size != 0) std::memcpy(fresh.data(), block_->segment.data(), block_->size);
    block_->segment = std::move(fresh);
    block_->named = true;
    auto& self = const_cast<TransferableTypedData&>(*this);
    self.data_ = reinterpret_cast<std::uint8_t*>(block_->segment.data());
  }
  return detail::TransferableRef{block_->segment.name(), block_->size};
}

namespace detail {

// ------------------------------------------------------ sending: hand-over

namespace {
// The handles packed on this thread, in order; TransferScopes mark ranges.
thread_local std::vector<const TransferableTypedData*> packed;
}  // namespace

void note_packed(const TransferableTypedData& handle) { packed.push_back(&handle); }

TransferScope::TransferScope() noexcept : mark_(packed.size()) {}

TransferScope::~TransferScope() { packed.resize(std::min(packed.size(), mark_)); }

void TransferScope::commit() noexcept {
  for (std::size_t i = mark_; i < packed.size(); ++i) {
    // The send had the handle, so the sender's object is not really const.
    auto& handle = const_cast<TransferableTypedData&>(*packed[i]);
    if (!handle.empty()) TransferableAccess::hand_over(handle);
  }
  packed.resize(mark_);
}

// ---------------------------------------------------- receiving: adoption

class TransferTable {
 public:
  void add(const TransferableRef& ref) {
    if (blocks_.contains(ref.segment_name)) return;
    Entry entry;
    try {
      auto block = new_block();
      block->segment = Segment::open(ref.segment_name, SegmentKind::transferable,
                                     static_cast<std::size_t>(ref.size));
      block->segment.unlink();  // mapped: the name has done its job (DESIGN §11)
      block->size = static_cast<std::size_t>(ref.size);
      block->named = false;
      entry.block = std::move(block);
    } catch (const Error& e) {
      entry.failure = e.what();
    }
    blocks_.emplace(ref.segment_name, std::move(entry));
  }

  TransferableTypedData take(const TransferableRef& ref) {
    std::lock_guard lock(mutex_);
    const auto found = blocks_.find(ref.segment_name);
    if (found == blocks_.end()) throw DecodeError("this message carries no such TransferableTypedData");
    Entry& entry = found->second;
    if (!entry.failure.empty()) {
      throw TransportError("the block of this TransferableTypedData is lost: " + entry.failure);
    }
    if (!entry.block) {
      throw UsageError("the TransferableTypedData in this message was taken already (once only)");
    }
    return TransferableAccess::make(std::move(entry.block));
  }

 private:
  struct Entry {
    std::shared_ptr<TransferableTypedData::Block> block;
    std::string failure;
  };
  std::mutex mutex_;  // copies of a Message may be read on several threads
  std::map<std::string, Entry, std::less<>> blocks_;
};

namespace {

// Calls found(ref) for every transferable inside `object`.
template <class Found>
void for_each_transferable(const msgpack::object& object, Found&& found, int depth) {
  if (depth > 1024) return;  // Message::decode bounds nesting far below this
  switch (object.type) {
    case msgpack::type::EXT:
      if (object.via.ext.type() == kTransferableExt) {
        TransferableRef ref;
        msgpack::adaptor::convert<TransferableRef>()(object, ref);
        found(ref);
      }
      break;
    case msgpack::type::ARRAY:
      for (std::uint32_t i = 0; i < object.via.array.size; ++i) {
        for_each_transferable(object.via.array.ptr[i], found, depth + 1);
      }
      break;
    case msgpack::type::MAP:
      for (std::uint32_t i = 0; i < object.via.map.size; ++i) {
        for_each_transferable(object.via.map.ptr[i].key, found, depth + 1);
        for_each_transferable(object.via.map.ptr[i].val, found, depth + 1);
      }
      break;
    default: break;
  }
}

void collect_names(const msgpack::object& object, std::vector<std::string>& names, int depth) {
  for_each_transferable(object, [&](const TransferableRef& ref) {
    const auto parsed = parse_segment_name(ref.segment_name);
    if (parsed && parsed->kind == SegmentKind::transferable) names.push_back(ref.segment_name);
  }, depth);
}

thread_local std::shared_ptr<TransferTable> reading;

}  // namespace

void unlink_transfers_in(std::span<const std::byte> encoded) noexcept {
  try {
    // Our own frame, written by this process: no need for Message's checks.
    const msgpack::object_handle handle =
        msgpack::unpack(reinterpret_cast<const char*>(encoded.data()), encoded.size());
    std::vector<std::string> names;
    collect_names(handle.get(), names, 0);
    for (const auto& name : names) unlink_segment(name);
  } catch (...) {
    // Not a message we can read: nothing to reclaim.
  }
}

std::shared_ptr<TransferTable> adopt_transfers(const msgpack::object& root) {
  // Every received message comes through here: the table is only allocated
  // for one that carries a transferable.
  std::shared_ptr<TransferTable> table;
  for_each_transferable(root, [&](const TransferableRef& ref) {
    if (!table) table = std::make_shared<TransferTable>();
    table->add(ref);
  }, 0);
  return table;
}

ReadingTransfers::ReadingTransfers(std::shared_ptr<TransferTable> table) noexcept
    : previous_(std::exchange(reading, std::move(table))) {}

ReadingTransfers::~ReadingTransfers() { reading = std::move(previous_); }

std::shared_ptr<TransferTable> reading_transfers() noexcept { return reading; }

TransferableTypedData take_transferable(const TransferableRef& ref) {
  if (reading) return reading->take(ref);
  // A message nobody adopted (decoded by hand): map the block directly.
  TransferTable table;
  table.add(ref);
  return table.take(ref);
}

}  // namespace detail
}  // namespace isolated
