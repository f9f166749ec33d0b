// The state behind a LoadBalancer (DESIGN §8): n slots, each a runner and its
// summed load; tasks that found no runner taking work (all being replaced)
// wait in a queue; one healer thread replaces runners that died or timed out.
#pragma once

#include "runner_core.hpp"

#include <isolated/isolate_runner.hpp>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace isolated::detail {

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  // `runners` are started already; the pool owns them from now on.
  static std::shared_ptr<Pool> start(std::vector<std::shared_ptr<RunnerCore>> runners,
                                     std::function<IsolateRunner()> factory);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool();

  // Returns the task's cancel: see LoadBalancer::submit_task.
  CancelTask submit(RunnerTask task, int load, const RunOptions& options, RunnerDone done);
  void submit_multiple(RunnerTask task, int load, std::vector<RunnerDone> dones);
  std::size_t size() const;
  void close();

 private:
  struct Slot {
    std::shared_ptr<RunnerCore> core;
    int load = 0;
    bool usable = false;         // false: the healer replaces it
    std::uint64_t generation = 0;  // which runner of this slot a load belongs to
  };
  // A task on its way: where it runs now, and how often it may run again.
  struct Ticket {
    RunnerTask task;
    int load = 0;
    RunOptions options;
    RunnerDone done;
    std::size_t slot = 0;
    std::uint64_t generation = 0;
    std::weak_ptr<RunnerCore> runner;  // where it was placed last, and its id there
    std::uint64_t task_id = 0;
    bool cancelled = false;
  };

  explicit Pool(std::function<IsolateRunner()> factory);
  std::optional<std::size_t> least_loaded_locked() const;
  bool place_locked(const std::shared_ptr<Ticket>& ticket);
  bool place_on_locked(const std::shared_ptr<Ticket>& ticket, std::size_t slot);
  void enqueue(std::shared_ptr<Ticket> ticket);
  void cancel(const std::shared_ptr<Ticket>& ticket);
  void settled(const std::shared_ptr<Ticket>& ticket, const std::vector<Message>* reply,
               std::exception_ptr error);
  void install(std::size_t slot, std::shared_ptr<RunnerCore> core);
  void unusable(std::size_t slot, std::uint64_t generation);
  void heal();

  std::function<IsolateRunner()> factory_;
  mutable std::mutex mutex_;
  std::condition_variable healer_wake_;
  std::vector<Slot> slots_;
  std::deque<std::shared_ptr<Ticket>> waiting_;  // for a runner that takes work
  std::vector<std::shared_ptr<RunnerCore>> retired_;  // replaced, maybe still ending
  bool closed_ = false;
  std::thread healer_;
  std::mutex closing_;          // one close() at a time
  bool closed_fully_ = false;   // under closing_
};

}  // namespace isolated::detail
