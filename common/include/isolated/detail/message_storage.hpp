// What a received Message owns: its decoded tree and its bytes (a copy, or a
// buffer kept alive). A reference-counted handle to storage that the codec
// recycles, so receiving a stream allocates nothing per message once warm.
// MessageStorage itself is defined in common/src/codec/message_storage.hpp.
#pragma once

#include <utility>

namespace isolated::detail {

struct MessageStorage;

// Defined with MessageStorage: a reference more, a reference less (the last
// one gives the storage back for reuse). Any thread; never throw.
void retain(MessageStorage* storage) noexcept;
void release(MessageStorage* storage) noexcept;

class StorageRef {
 public:
  StorageRef() noexcept = default;
  // Takes over one reference the caller holds.
  explicit StorageRef(MessageStorage* storage) noexcept : storage_(storage) {}
  StorageRef(const StorageRef& other) noexcept : storage_(other.storage_) {
    if (storage_ != nullptr) retain(storage_);
  }
  StorageRef(StorageRef&& other) noexcept : storage_(std::exchange(other.storage_, nullptr)) {}
  StorageRef& operator=(StorageRef other) noexcept {
    std::swap(storage_, other.storage_);
    return *this;
  }
  ~StorageRef() {
    if (storage_ != nullptr) release(storage_);
  }
  bool empty() const noexcept { return storage_ == nullptr; }

 private:
  MessageStorage* storage_ = nullptr;
};

}  // namespace isolated::detail
