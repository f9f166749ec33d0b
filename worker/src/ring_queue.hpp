// A FIFO that keeps its memory: a ring over a vector that doubles when full
// and keeps its size, so a port's queue in a stream pushes and pops without
// allocating (std::deque allocates and frees a block every few elements).
// Its capacity is a power of two, so positions wrap with a mask.
// Not thread-safe (the runtime guards each queue with its mutex). T's
// moved-from state must own nothing (a Message is nil then).
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

  // A new last element, default-constructed, to fill in place. May allocate
  // (and move every element) when the ring is full.
  T& emplace_back() {
    if (size_ == slots_.size()) grow();
    return slots_[(head_ + size_++) & (slots_.size() - 1)];
  }
  void push_back(T value) { emplace_back() = std::move(value); }

  // Takes the last element back (after a fill in place that failed).
  void pop_back() noexcept {
    slots_[(head_ + --size_) & (slots_.size() - 1)] = T();
  }

  // The oldest element, moved into `out`. The queue must not be empty.
  void pop_front_into(T& out) noexcept {
    out = std::move(slots_[head_]);  // leaves the slot empty (a moved-from T)
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }

  // The oldest element, taken out. The queue must not be empty.
  T pop_front() noexcept {
    T value = std::move(slots_[head_]);  // leaves the slot empty (a moved-from T)
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
    return value;
  }

 private:
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 16 : 2 * slots_.size());
    for (std::size_t i = 0; i < size_; ++i) {
      bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    }
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace isolated::detail
