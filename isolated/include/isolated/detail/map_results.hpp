// LoadBalancer::map's result range: the asyncMap of the article. Inputs are
// pulled only as results are taken (backpressure), at most max_in_flight
// tasks are in the air, and results come in input order (or in completion
// order with ordered = false).
#pragma once

#include <isolated/isolate_runner.hpp>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace isolated {

struct MapOptions {
  std::size_t max_in_flight = 0;  // 0: twice the pool's size
  bool ordered = true;            // false: results in the order they complete
};

namespace detail {

// Indices of tasks that completed, in completion order.
struct Completions {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::size_t> done;

  void push(std::size_t index) {
    {
      std::lock_guard lock(mutex);
      done.push_back(index);
    }
    changed.notify_one();
  }
  std::size_t pop() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return !done.empty(); });
    const std::size_t index = done.front();
    done.pop_front();
    return index;
  }
};

// Balancer: anything with submit_task(RunnerTask, RunnerDone) and size().
// Inputs: the input range, held by reference (an lvalue) or by value.
template <class R, class Balancer, class Inputs, class F>
class MapResults {
  static_assert(!std::is_void_v<R>, "isolated: map needs a function that returns a value");

 public:
  MapResults(Balancer& balancer, Inputs&& inputs, F f, MapOptions options)
      : balancer_(balancer),
        inputs_(std::forward<Inputs>(inputs)),
        next_(std::begin(inputs_)),
        end_(std::end(inputs_)),
        f_(f),
        ordered_(options.ordered),
        max_in_flight_(options.max_in_flight != 0 ? options.max_in_flight
                                                  : 2 * std::max<std::size_t>(balancer.size(), 1)) {}
  // Iterators point into the held inputs: the range stays where it was made.
  MapResults(const MapResults&) = delete;
  MapResults& operator=(const MapResults&) = delete;
  // A consumer that stops early cancels the tasks still in the air: queued
  // ones never run, running ones end with their runners, which the pool
  // replaces. Nothing of this map keeps running.
  ~MapResults() {
    for (auto& [index, task] : in_flight_) task.cancel();
  }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    using pointer = R*;
    using reference = R&;

    iterator() = default;
    explicit iterator(MapResults* owner) : owner_(owner) { ++*this; }
    R& operator*() { return *current_; }
    R* operator->() { return &*current_; }
    // Takes the next result; throws what its task threw (RemoteError,
    // IsolateExited, TimeoutError).
    iterator& operator++() {
      current_ = owner_->take();
      if (!current_) owner_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.owner_ == b.owner_; }

   private:
    MapResults* owner_ = nullptr;
    std::optional<R> current_;
  };

  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

  // Inputs read so far and tasks in the air: for tests and progress bars.
  std::size_t inputs_taken() const noexcept { return submitted_; }
  std::size_t in_flight() const noexcept { return in_flight_.size(); }

 private:
  // Starts tasks until max_in_flight are in the air or the inputs end.
  void fill() {
    while (in_flight_.size() < max_in_flight_ && next_ != end_) {
      const std::size_t index = submitted_++;
      auto [future, done] = promised<R>();
      // Only the unordered range reads completions; the ordered one would
      // only pile them up.
      std::shared_ptr<Completions> completions = ordered_ ? nullptr : completions_;
      RunnerDone notify = [done = std::move(done), completions = std::move(completions), index](
                              const std::vector<Message>* reply, std::exception_ptr error) {
        done(reply, error);
        if (completions) completions->push(index);
      };
      CancelTask cancel = balancer_.submit_task(make_runner_task(f_, *next_), std::move(notify));
      ++next_;
      in_flight_.emplace(index, InFlight{std::move(future), std::move(cancel)});
    }
  }

  std::optional<R> take() {
    fill();
    if (in_flight_.empty()) return std::nullopt;
    std::size_t index = in_flight_.begin()->first;  // ordered: the oldest
    if (!ordered_) index = completions_->pop();
    auto node = in_flight_.extract(index);
    R result = node.mapped().result.get();  // throws what the task threw
    fill();
    return result;
  }

  Balancer& balancer_;
  Inputs inputs_;
  decltype(std::begin(std::declval<std::remove_reference_t<Inputs>&>())) next_;
  decltype(std::end(std::declval<std::remove_reference_t<Inputs>&>())) end_;
  F f_;
  bool ordered_;
  std::size_t max_in_flight_;
  std::size_t submitted_ = 0;
  struct InFlight {
    std::future<R> result;
    CancelTask cancel;
  };
  std::map<std::size_t, InFlight> in_flight_;
  std::shared_ptr<Completions> completions_ = std::make_shared<Completions>();
};

}  // namespace detail
}  // namespace isolated
