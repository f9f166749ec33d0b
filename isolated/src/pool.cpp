#include "pool.hpp"

#include <isolated/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

namespace isolated::detail {
namespace {

// After a failed replacement, the healer tries again this much later.
constexpr std::chrono::milliseconds kHealRetryDelay{200};

enum class Failure { other, runner_died, never_started };

Failure failure_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const TaskNotStarted&) {
    return Failure::never_started;
  } catch (const IsolateExited&) {
    return Failure::runner_died;
  } catch (...) {
    return Failure::other;
  }
}

}  // namespace

Pool::Pool(std::function<IsolateRunner()> factory) : factory_(std::move(factory)) {}

std::shared_ptr<Pool> Pool::start(std::vector<std::shared_ptr<RunnerCore>> runners,
                                  std::function<IsolateRunner()> factory) {
  std::shared_ptr<Pool> pool(new Pool(std::move(factory)));
  pool->slots_.resize(runners.size());
  for (std::size_t i = 0; i < runners.size(); ++i) pool->install(i, std::move(runners[i]));
  pool->healer_ = std::thread([raw = pool.get()] { raw->heal(); });
  return pool;
}

Pool::~Pool() { close(); }

std::optional<std::size_t> Pool::least_loaded_locked() const {
  // A linear scan: pools are small, and it makes ties deterministic (the
  // lowest index wins), which a heap would not.
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].usable) continue;
    if (!best || slots_[i].load < slots_[*best].load) best = i;
  }
  return best;
}

bool Pool::place_on_locked(const std::shared_ptr<Ticket>& ticket, std::size_t index) {
  Slot& slot = slots_[index];
  ticket->slot = index;
  ticket->generation = slot.generation;
  slot.load += ticket->load;
  RunnerDone done = [weak = weak_from_this(), ticket](const std::vector<Message>* reply,
                                                      std::exception_ptr error) {
    if (auto pool = weak.lock()) {
      pool->settled(ticket, reply, std::move(error));
    } else {
      ticket->done(reply, std::move(error));
    }
  };
  std::optional<std::uint64_t> id;
  try {
    id = slot.core->try_submit(ticket->task, ticket->options.timeout, done);
  } catch (...) {
    // The task cannot be encoded (e.g. a function outside any module): it
    // fails, and the runner stays as it was. ticket->done only settles a
    // promise, so calling it under the lock is safe.
    slot.load -= ticket->load;
    ticket->done(nullptr, std::current_exception());
    return true;
  }
  if (id) {
    ticket->runner = slot.core;
    ticket->task_id = *id;
    return true;
  }
  // It takes no more work (its end or a timeout is on the way): replace it.
  slot.load -= ticket->load;
  slot.usable = false;
  healer_wake_.notify_all();
  return false;
}

bool Pool::place_locked(const std::shared_ptr<Ticket>& ticket) {
  while (const auto index = least_loaded_locked()) {
    if (place_on_locked(ticket, *index)) return true;
  }
  return false;
}

void Pool::enqueue(std::shared_ptr<Ticket> ticket) {
  const char* why = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (!closed_ && !ticket->cancelled) {
      if (!place_locked(ticket)) waiting_.push_back(std::move(ticket));
      return;
    }
    // Cancelled while it went from a dead runner to another.
    why = ticket->cancelled ? "the task was cancelled" : "the LoadBalancer is closed";
  }
  ticket->done(nullptr, std::make_exception_ptr(Error(why)));
}

CancelTask Pool::submit(RunnerTask task, int load, const RunOptions& options,
                        RunnerDone done) {
  auto ticket = std::make_shared<Ticket>();
  ticket->task = std::move(task);
  ticket->load = load;
  ticket->options = options;
  ticket->done = std::move(done);
  enqueue(ticket);
  return [weak = weak_from_this(), ticket] {
    if (auto pool = weak.lock()) pool->cancel(ticket);
  };
}

void Pool::cancel(const std::shared_ptr<Ticket>& ticket) {
  const auto why = std::make_exception_ptr(Error("the task was cancelled"));
  std::shared_ptr<RunnerCore> runner;
  bool was_waiting = false;
  {
    std::lock_guard lock(mutex_);
    ticket->cancelled = true;
    const auto queued = std::find(waiting_.begin(), waiting_.end(), ticket);
    was_waiting = queued != waiting_.end();
    if (was_waiting) {
      waiting_.erase(queued);
    } else {
      runner = ticket->runner.lock();
    }
  }
  if (was_waiting) {
    ticket->done(nullptr, why);
  } else if (runner) {
    // Settles it through settled() (which gives the load back), unless it is
    // settled already. A runner that is gone has settled all its tasks.
    runner->cancel(ticket->task_id, why);
  }
}

void Pool::submit_multiple(RunnerTask task, int load, std::vector<RunnerDone> dones) {
  std::vector<std::shared_ptr<Ticket>> refused;
  {
    std::lock_guard lock(mutex_);
    if (dones.size() > slots_.size()) {
      throw UsageError("LoadBalancer::run_multiple: " + std::to_string(dones.size()) +
                                  " runners asked for, the pool has " +
                                  std::to_string(slots_.size()));
    }
    // The least loaded runners first, ties by index: stable sort of indices.
    std::vector<std::size_t> order(slots_.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::erase_if(order, [&](std::size_t i) { return !slots_[i].usable; });
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return slots_[a].load < slots_[b].load;
    });
    for (std::size_t i = 0; i < dones.size(); ++i) {
      auto ticket = std::make_shared<Ticket>();
      ticket->task = task;
      ticket->load = load;
      ticket->done = std::move(dones[i]);
      if (closed_) {
        refused.push_back(std::move(ticket));
      } else if (i >= order.size() || !place_on_locked(ticket, order[i])) {
        // Its runner is being replaced: it goes to the first that takes work.
        waiting_.push_back(std::move(ticket));
      }
    }
  }
  for (auto& ticket : refused) {
    ticket->done(nullptr, std::make_exception_ptr(Error("the LoadBalancer is closed")));
  }
}

void Pool::settled(const std::shared_ptr<Ticket>& ticket, const std::vector<Message>* reply,
                   std::exception_ptr error) {
  {
    std::lock_guard lock(mutex_);
    Slot* slot = ticket->slot < slots_.size() ? &slots_[ticket->slot] : nullptr;
    // Given back before the future is ready; a replaced runner's load went with it.
    if (slot != nullptr && slot->generation == ticket->generation) slot->load -= ticket->load;
  }
  const Failure failure = error ? failure_of(error) : Failure::other;
  bool again = false;
  {
    std::lock_guard lock(mutex_);
    // Its runner died; it is no longer usable, so the task goes elsewhere.
    if (!ticket->cancelled && failure == Failure::never_started) again = true;
    if (!ticket->cancelled && failure == Failure::runner_died && ticket->options.retries > 0) {
      --ticket->options.retries;
      again = true;
    }
  }
  if (again) {
    enqueue(ticket);
    return;
  }
  ticket->done(reply, std::move(error));
}

void Pool::install(std::size_t index, std::shared_ptr<RunnerCore> core) {
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    Slot& slot = slots_[index];
    slot.core = core;
    slot.load = 0;
    slot.usable = true;
    generation = ++slot.generation;
    while (!waiting_.empty() && place_locked(waiting_.front())) waiting_.pop_front();
  }
  // Outside the lock: it calls back at once if the runner is unusable already.
  core->on_unusable([weak = weak_from_this(), index, generation] {
    if (auto pool = weak.lock()) pool->unusable(index, generation);
  });
}

void Pool::unusable(std::size_t index, std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  if (index >= slots_.size() || slots_[index].generation != generation) return;
  slots_[index].usable = false;
  healer_wake_.notify_all();
}

void Pool::heal() {
  std::unique_lock lock(mutex_);
  for (;;) {
    healer_wake_.wait(lock, [&] {
      return closed_ || std::any_of(slots_.begin(), slots_.end(),
                                    [](const Slot& s) { return !s.usable; });
    });
    if (closed_) return;
    const auto broken = std::find_if(slots_.begin(), slots_.end(),
                                     [](const Slot& s) { return !s.usable; });
    const auto index = static_cast<std::size_t>(broken - slots_.begin());
    if (broken->core) retired_.push_back(std::move(broken->core));
    std::erase_if(retired_, [](const auto& core) { return core->ended(); });
    lock.unlock();
    std::shared_ptr<RunnerCore> fresh;
    try {
      fresh = factory_().release_core();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "isolated: LoadBalancer could not replace a runner: %s\n", e.what());
    }
    if (!fresh) {
      lock.lock();
      healer_wake_.wait_for(lock, kHealRetryDelay, [&] { return closed_; });
      continue;
    }
    lock.lock();
    if (closed_) {
      retired_.push_back(std::move(fresh));  // close() ends it
      return;
    }
    lock.unlock();
    install(index, std::move(fresh));
    lock.lock();
  }
}

std::size_t Pool::size() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.usable; }));
}

void Pool::close() {
  std::lock_guard closing(closing_);
  if (closed_fully_) return;
  std::deque<std::shared_ptr<Ticket>> waiting;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    waiting.swap(waiting_);
  }
  healer_wake_.notify_all();
  if (healer_.joinable()) {
    if (healer_.get_id() == std::this_thread::get_id()) {
      healer_.detach();
    } else {
      healer_.join();
    }
  }
  for (auto& ticket : waiting) {
    ticket->done(nullptr, std::make_exception_ptr(
                              Error("the LoadBalancer was closed before the task could run")));
  }
  std::vector<std::shared_ptr<RunnerCore>> runners;
  {
    std::lock_guard lock(mutex_);
    for (auto& slot : slots_) {
      slot.usable = false;
      if (slot.core) runners.push_back(std::move(slot.core));
    }
    for (auto& core : retired_) runners.push_back(std::move(core));
    retired_.clear();
  }
  // All at once: each finishes its queue in parallel with the others.
  for (auto& core : runners) core->begin_close();
  for (auto& core : runners) core->wait_ended(std::nullopt);
  closed_fully_ = true;
}

}  // namespace isolated::detail
