// A FIFO that keeps its memory: a ring over a vector that doubles when full
// and keeps its size, so a port's queue in a stream pushes and pops without
// allocating (std::deque allocates and frees a block every few elements).
// Not thread-safe (the runtime guards each queue with its mutex).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace isolated::detail {

template <class T>
class RingQueue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  // May allocate (and move every element) when the ring is full.
  void push_back(T value) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) % slots_.size()] = std::move(value);
    ++size_;
  }

  // The oldest element, taken out. The queue must not be empty.
  T pop_front() noexcept {
    T value = std::move(slots_[head_]);
    slots_[head_] = T();  // nothing the element owned stays behind
    head_ = (head_ + 1) % slots_.size();
    --size_;
    return value;
  }

 private:
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 16 : 2 * slots_.size());
    for (std::size_t i = 0; i < size_; ++i) {
      bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    }
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace isolated::detail
