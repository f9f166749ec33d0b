// The host side of an IsolateRunner, shared by IsolateRunner and LoadBalancer.
//
// Requests go straight to the worker's request port (buffered until the
// worker has said where that is). One reader thread per runner takes the
// replies from the reply port and settles the tasks; it also watches their
// deadlines. The supervisor's end notification arrives on the same port,
// after the worker's last replies (the supervisor drains the dead worker's
// lanes before it reports), so no finished task is ever reported as lost.
#pragma once

#include <isolated/compute.hpp>
#include <isolated/isolate.hpp>
#include <isolated/isolate_runner.hpp>
#include <isolated/receive_port.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace isolated::detail {

// How a task fails when its runner ended before the task started (it was
// queued behind the one that was running). A LoadBalancer runs such a task
// again elsewhere, retries or not: it never ran.
class TaskNotStarted : public IsolateExited {
 public:
  using IsolateExited::IsolateExited;
};

class RunnerCore : public std::enable_shared_from_this<RunnerCore> {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts the worker and the reader thread. Throws IsolateSpawnError.
  // `program`: kThisProgram, or a worker binary (spawn_uri), which runs
  // tasks by name only.
  static std::shared_ptr<RunnerCore> spawn(const std::string& program, SpawnOptions options);

  RunnerCore(const RunnerCore&) = delete;
  RunnerCore& operator=(const RunnerCore&) = delete;
  ~RunnerCore();

  const Isolate& isolate() const { return *isolate_; }
  int pid() const noexcept { return pid_; }

  // Queues the task and returns its id. Nothing (and `done` untouched) once
  // the runner takes no more work: closed, killed, timed out or ended.
  std::optional<std::uint64_t> try_submit(RunnerTask& task,
                                          std::optional<std::chrono::milliseconds> timeout,
                                          RunnerDone& done);
  // Settles the task at once with `why`, unless it is settled already, and
  // tells the worker: a task queued there is skipped; if it runs it, it ends
  // (only its process's end can stop a task), and the runner is replaced.
  void cancel(std::uint64_t id, std::exception_ptr why);
  // Why try_submit refuses: IsolateExited once ended, else Error (closed).
  std::exception_ptr refusal() const;

  // Graceful: no more work; the worker ends after the queued tasks.
  void begin_close();
  // before_next_event, then immediate after `grace`; waits for the end.
  void kill(std::chrono::milliseconds grace);
  bool ping(std::chrono::milliseconds timeout) const;

  // Waits until the process has ended and every task is settled.
  bool wait_ended(std::optional<std::chrono::milliseconds> timeout);
  bool ended() const;

  // Called once (at once if it happened already), never under a lock, when
  // the runner stops taking work for a reason of its own: its process ended
  // or a task timed out (its process is being killed).
  void on_unusable(std::function<void()> callback);

 private:
  struct Pending {
    RunnerDone done;
    std::optional<Clock::time_point> deadline;
    std::optional<std::chrono::milliseconds> timeout;
  };

  explicit RunnerCore(bool foreign_binary);
  // Starts the reader thread once the isolate runs.
  void started(const Isolate& isolate);
  void read_replies();
  // Each returns false once the runner has ended.
  bool handle(const Message& message);
  void expire_overdue();
  void erase_deadline_locked(Clock::time_point deadline, std::uint64_t id);
  void send_locked(const std::vector<std::byte>& request);
  void send_cancel_locked(std::uint64_t id);
  void kill_now();
  void settle_refused();
  // No more work; if `unusable`, hands the on_unusable callback to `notify`.
  void stop_accepting_locked(bool unusable, std::function<void()>& notify);
  void notified_end(const ExitInfo& exit);
  // For the supervisor: calls notified_end while the core lives.
  static std::function<void(const ExitInfo&)> end_listener(const std::shared_ptr<RunnerCore>& core);

  ReceivePort replies_;
  SendPort reply_port_;
  std::optional<Isolate> isolate_;
  int pid_ = 0;
  // Another program: code addresses of this one mean nothing there.
  const bool foreign_binary_;

  mutable std::mutex mutex_;
  std::condition_variable ended_changed_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Pending> pending_;
  // Cancelled or timed out, neither answered nor skipped by the worker yet:
  // one of them may be the task the worker runs.
  std::set<std::uint64_t> unanswered_;
  // Code tasks a foreign runner refused; the reader settles them.
  std::vector<RunnerDone> refused_;
  std::multimap<Clock::time_point, std::uint64_t> deadlines_;  // of pending tasks
  std::optional<SendPort> request_port_;       // known once the worker is ready
  std::optional<SendPort> cancel_port_;        // likewise
  std::vector<std::vector<std::byte>> unsent_;  // requests made before that
  std::vector<std::uint64_t> unsent_cancels_;   // and cancellations
  bool accepting_ = true;
  bool close_requested_ = false;
  bool unusable_ = false;
  bool ended_ = false;
  std::optional<ExitInfo> exit_;
  std::function<void()> on_unusable_;
};

}  // namespace isolated::detail
