#include "message_storage.hpp"

#include <array>
#include <mutex>
#include <vector>

namespace isolated::detail {
namespace {

// Size classes of the first chunk, how many free storages the process keeps
// of each, and how many of those one thread may hold without a lock (most
// messages are decoded and released by the same thread: a receiver drains
// its own inbox). Together at most about 3 MiB held for reuse.
struct SizeClass {
  std::size_t chunk_bytes;
  std::size_t keep;
  std::size_t keep_per_thread;
};
constexpr std::array<SizeClass, 5> kClasses = {{
    {512, 1024, 256},
    {2 * 1024, 256, 64},
    {8 * 1024, 64, 16},
    {32 * 1024, 16, 4},
    {136 * 1024, 8, 2},  // a 64 KiB binary with its tree, and room to spare
}};

// Storage set aside for reuse. Each list is reserved at its full size on
// first use, so putting storage back never allocates.
struct FreeList {
  std::vector<MessageStorage*> storages;
  bool has_room(std::size_t keep) const noexcept { return storages.size() < keep; }
  bool push(MessageStorage* storage, std::size_t keep) noexcept {
    if (!has_room(keep)) return false;
    try {
      if (storages.capacity() < keep) storages.reserve(keep);
    } catch (...) {
      return false;
    }
    storages.push_back(storage);
    return true;
  }
  MessageStorage* pop() noexcept {
    if (storages.empty()) return nullptr;
    MessageStorage* storage = storages.back();
    storages.pop_back();
    return storage;
  }
};

struct SharedFreeLists {
  std::array<std::mutex, kClasses.size()> mutexes;
  std::array<FreeList, kClasses.size()> lists;
};

// Never destroyed: messages may be released during exit, after static
// destructors ran.
SharedFreeLists& shared_lists() {
  static auto* lists = new SharedFreeLists();
  return *lists;
}

// This thread's lists; at the thread's end they go to the shared ones.
struct ThreadFreeLists {
  std::array<FreeList, kClasses.size()> lists;
  ~ThreadFreeLists();
};
thread_local bool thread_lists_gone = false;  // trivially destructible: safe to read at exit

ThreadFreeLists* thread_lists() noexcept {
  if (thread_lists_gone) return nullptr;  // the thread is ending
  thread_local ThreadFreeLists lists;
  return &lists;
}

void give_back(MessageStorage* storage) noexcept {
  const auto c = static_cast<std::size_t>(storage->size_class);
  SharedFreeLists& shared = shared_lists();
  {
    std::lock_guard lock(shared.mutexes[c]);
    if (shared.lists[c].push(storage, kClasses[c].keep)) return;
  }
  delete storage;
}

ThreadFreeLists::~ThreadFreeLists() {
  thread_lists_gone = true;
  for (auto& list : lists) {
    while (MessageStorage* storage = list.pop()) give_back(storage);
  }
}

}  // namespace

MessageStorage* acquire_storage(std::size_t bytes) {
  for (std::size_t c = 0; c < kClasses.size(); ++c) {
    if (bytes > kClasses[c].chunk_bytes) continue;
    MessageStorage* storage = nullptr;
    if (ThreadFreeLists* mine = thread_lists()) storage = mine->lists[c].pop();
    if (storage == nullptr) {
      SharedFreeLists& shared = shared_lists();
      std::lock_guard lock(shared.mutexes[c]);
      storage = shared.lists[c].pop();
    }
    if (storage == nullptr) return new MessageStorage(kClasses[c].chunk_bytes, static_cast<int>(c));
    storage->references.store(1, std::memory_order_relaxed);
    return storage;
  }
  return new MessageStorage(bytes, -1);
}

void retain(MessageStorage* storage) noexcept {
  storage->references.fetch_add(1, std::memory_order_relaxed);
}

void release(MessageStorage* storage) noexcept {
  // acq_rel: every use of the tree by other holders happens before the reuse.
  if (storage->references.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  storage->keep_alive.reset();
  if (storage->size_class < 0) {
    delete storage;
    return;
  }
  storage->zone.clear();  // keeps the first chunk
  const auto c = static_cast<std::size_t>(storage->size_class);
  if (ThreadFreeLists* mine = thread_lists()) {
    if (mine->lists[c].push(storage, kClasses[c].keep_per_thread)) return;
  }
  give_back(storage);
}

}  // namespace isolated::detail
