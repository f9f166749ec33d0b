#include "runner_core.hpp"

#include "spawn.hpp"
#include "worker/src/modules.hpp"
#include "worker/src/runner_protocol.hpp"

#include <isolated/detail/runtime_calls.hpp>
#include <isolated/error.hpp>

#include <cstdint>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace isolated::detail {
namespace {

// How long kill() waits for the end after the immediate kill.
constexpr std::chrono::seconds kImmediateKillWait{10};

// dl_iterate_phdr per task would cost more than the task; a function's
// address does not move while the program runs.
CodeAddress locate_cached(AnyFunction function) {
  static std::mutex mutex;
  static std::unordered_map<AnyFunction, CodeAddress> located;
  std::lock_guard lock(mutex);
  const auto found = located.find(function);
  if (found != located.end()) return found->second;
  CodeAddress code = locate_code(reinterpret_cast<const void*>(function));
  located.emplace(function, code);
  return code;
}

void post_to(const SendPort& port, const std::vector<std::byte>& bytes) {
  try {
    post_message(port, bytes);
  } catch (const Error&) {
    // The worker is gone or going: its end notification settles the tasks.
  }
}

template <class... T>
std::vector<std::byte> encoded(const std::tuple<T...>& value) {
  std::vector<std::byte> bytes;
  encode(value, bytes);
  return bytes;
}

std::vector<std::byte> encode_request(const RunnerTask& task, std::uint64_t id) {
  if (!task.exported_name.empty()) {
    return encoded(std::tuple<int, std::uint64_t, const std::string&, const Message&>(
        static_cast<int>(RunnerRequest::named_task), id, task.exported_name, task.argument));
  }
  return encoded(std::tuple<int, std::uint64_t, CodeAddress, CodeAddress, const Message&>(
      static_cast<int>(RunnerRequest::task), id, locate_cached(task.trampoline),
      locate_cached(task.target), task.argument));
}

}  // namespace

RunnerCore::RunnerCore(bool foreign_binary)
    : reply_port_(replies_.send_port()), foreign_binary_(foreign_binary) {}

RunnerCore::~RunnerCore() = default;

std::function<void(const ExitInfo&)> RunnerCore::end_listener(
    const std::shared_ptr<RunnerCore>& core) {
  return [weak = std::weak_ptr<RunnerCore>(core)](const ExitInfo& exit) {
    if (auto alive = weak.lock()) alive->notified_end(exit);
  };
}

void RunnerCore::started(const Isolate& isolate) {
  isolate_ = isolate;
  pid_ = isolate.pid();
  // The reader keeps the core alive until the worker has ended.
  std::thread([core = shared_from_this()] { core->read_replies(); }).detach();
}

std::shared_ptr<RunnerCore> RunnerCore::spawn(const std::string& program, SpawnOptions options) {
  const bool foreign = program != kThisProgram;
  if (options.debug_name.empty() && !foreign) options.debug_name = "runner";
  std::shared_ptr<RunnerCore> core(new RunnerCore(foreign));
  std::vector<std::byte> message;
  encode(core->reply_port_, message);
  core->started(spawn_runner_service_watched(program, message, options, end_listener(core)));
  return core;
}

std::optional<std::uint64_t> RunnerCore::try_submit(
    RunnerTask& task, std::optional<std::chrono::milliseconds> timeout, RunnerDone& done) {
  std::uint64_t id = 0;
  if (foreign_binary_ && task.exported_name.empty()) {
    // Settled by the reader: never under the caller's locks (a pool's).
    {
      std::lock_guard lock(mutex_);
      if (!accepting_) return std::nullopt;
      id = next_id_++;
      refused_.push_back(std::move(done));
    }
    post_to(reply_port_, encoded(std::tuple<int>(kWake)));
    return id;
  }
  {
    std::lock_guard lock(mutex_);
    if (!accepting_) return std::nullopt;
    // First, as it may throw (a function outside any module): nothing is
    // queued then, and `done` is untouched.
    std::vector<std::byte> request = encode_request(task, next_id_);
    id = next_id_++;
    Pending pending{std::move(done), std::nullopt, timeout};
    if (timeout) {
      pending.deadline = Clock::now() + *timeout;
      deadlines_.emplace(*pending.deadline, id);
    }
    pending_.emplace(id, std::move(pending));
    send_locked(request);
  }
  // The reader may be asleep until a later deadline, or with none.
  if (timeout) post_to(reply_port_, encoded(std::tuple<int>(kWake)));
  return id;
}

void RunnerCore::cancel(std::uint64_t id, std::exception_ptr why) {
  RunnerDone done;
  {
    std::lock_guard lock(mutex_);
    const auto found = pending_.find(id);
    if (found == pending_.end()) return;  // settled already
    done = std::move(found->second.done);
    if (found->second.deadline) erase_deadline_locked(*found->second.deadline, id);
    pending_.erase(found);
    unanswered_.insert(id);
    // The worker skips it if it is queued there, or ends if it runs it.
    send_cancel_locked(id);
  }
  done(nullptr, std::move(why));
}

void RunnerCore::settle_refused() {
  std::vector<RunnerDone> refused;
  {
    std::lock_guard lock(mutex_);
    refused.swap(refused_);
  }
  for (auto& done : refused) {
    done(nullptr, std::make_exception_ptr(Error(
                      "this runner runs another program (spawn_uri), where this program's "
                      "functions do not exist: run the functions it exports by name, "
                      "run<R>(\"name\", arg)")));
  }
}

std::exception_ptr RunnerCore::refusal() const {
  std::lock_guard lock(mutex_);
  if (exit_) {
    return std::make_exception_ptr(IsolateExited(
        "the runner (pid " + std::to_string(pid_) + ") " + exit_->description +
            "; it takes no more tasks",
        exit_->exit_code, exit_->signal, exit_->crash_report));
  }
  return std::make_exception_ptr(
      Error("the runner (pid " + std::to_string(pid_) +
            ") is closed or being killed; it takes no more tasks"));
}

void RunnerCore::send_locked(const std::vector<std::byte>& request) {
  if (request_port_) {
    post_to(*request_port_, request);
  } else {
    unsent_.push_back(request);
  }
}

void RunnerCore::send_cancel_locked(std::uint64_t id) {
  if (cancel_port_) {
    post_to(*cancel_port_, encoded(std::tuple<std::uint64_t>(id)));
  } else {
    unsent_cancels_.push_back(id);
  }
}

void RunnerCore::kill_now() {
  try {
    isolate_->kill(Priority::immediate);
  } catch (const Error&) {
    // Already gone: its end is on the way.
  }
}

void RunnerCore::stop_accepting_locked(bool unusable, std::function<void()>& notify) {
  accepting_ = false;
  if (unusable && !unusable_) {
    unusable_ = true;
    notify = std::move(on_unusable_);
  }
}

void RunnerCore::on_unusable(std::function<void()> callback) {
  {
    std::lock_guard lock(mutex_);
    if (!unusable_) {
      on_unusable_ = std::move(callback);
      return;
    }
  }
  callback();
}

void RunnerCore::begin_close() {
  std::lock_guard lock(mutex_);
  accepting_ = false;
  if (close_requested_ || ended_) return;
  close_requested_ = true;
  // Behind every queued task: the worker finishes them, then closes.
  send_locked(encoded(std::tuple<int>(static_cast<int>(RunnerRequest::close))));
}

void RunnerCore::kill(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    if (ended_) return;
  }
  try {
    isolate_->kill(Priority::before_next_event);
    if (wait_ended(grace)) return;
    isolate_->kill(Priority::immediate);
  } catch (const Error&) {
    // Already gone: its end is on the way.
  }
  if (!wait_ended(kImmediateKillWait)) {
    throw TimeoutError("the runner (pid " + std::to_string(pid_) +
                       ") did not end after an immediate kill");
  }
}

bool RunnerCore::ping(std::chrono::milliseconds timeout) const {
  if (ended()) return false;
  try {
    ReceivePort answer;
    // Immediate: the worker's runtime thread answers, even mid-task.
    isolate_->ping(answer.send_port(), true, Priority::immediate);
    return answer.receive_for(timeout).has_value();
  } catch (const Error&) {
    return false;
  }
}

bool RunnerCore::wait_ended(std::optional<std::chrono::milliseconds> timeout) {
  std::unique_lock lock(mutex_);
  if (!timeout) {
    ended_changed_.wait(lock, [&] { return ended_; });
    return true;
  }
  return ended_changed_.wait_for(lock, *timeout, [&] { return ended_; });
}

bool RunnerCore::ended() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

void RunnerCore::notified_end(const ExitInfo& exit) {
  {
    std::lock_guard lock(mutex_);
    exit_ = exit;
  }
  // Queued behind the worker's last replies, which the supervisor has
  // drained into our port before telling us.
  post_to(reply_port_, encoded(std::tuple<int>(kEnded)));
}

void RunnerCore::read_replies() {
  for (;;) {
    std::optional<Clock::time_point> next_deadline;
    {
      std::lock_guard lock(mutex_);
      if (!deadlines_.empty()) next_deadline = deadlines_.begin()->first;
    }
    std::optional<Message> message;
    try {
      if (next_deadline) {
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next_deadline - Clock::now());
        message = replies_.receive_for(std::max(wait, std::chrono::milliseconds(0)));
      } else {
        message = replies_.receive();
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "isolated: runner %d's reply port failed: %s\n", pid_, e.what());
      return;
    }
    if (message && !handle(*message)) break;
    settle_refused();
    expire_overdue();
  }
  replies_.close();
}

bool RunnerCore::handle(const Message& message) {
  // A worker (any worker: port numbers are no secret) can write anything
  // here; whatever does not parse is dropped.
  std::vector<Message> parts;
  int kind = -1;
  std::uint64_t id = 0;
  try {
    parts = message.as<std::vector<Message>>();
    kind = parts.at(0).as<int>();
    if (kind == kReply || kind == kSkipped) id = parts.at(1).as<std::uint64_t>();
    if (kind == kReady) {
      std::lock_guard lock(mutex_);
      if (request_port_) return true;  // the worker says it once
      request_port_ = parts.at(1).as<SendPort>();
      cancel_port_ = parts.at(2).as<SendPort>();
      for (const auto& request : unsent_) post_to(*request_port_, request);
      unsent_.clear();
      for (const std::uint64_t cancelled : unsent_cancels_) send_cancel_locked(cancelled);
      unsent_cancels_.clear();
      return true;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isolated: runner %d: dropped a malformed reply: %s\n", pid_, e.what());
    return true;
  }
  if (kind == kReply || kind == kSkipped) {
    RunnerDone done;
    {
      std::lock_guard lock(mutex_);
      const auto found = pending_.find(id);
      if (found == pending_.end()) {  // cancelled or timed out already
        unanswered_.erase(id);
        return true;
      }
      if (kind == kSkipped) return true;  // only a cancelled task is skipped
      done = std::move(found->second.done);
      if (found->second.deadline) erase_deadline_locked(*found->second.deadline, found->first);
      pending_.erase(found);
    }
    done(&parts, nullptr);
    return true;
  }
  if (kind != kEnded) return true;  // kWake: only to look at deadlines and refusals again

  std::map<std::uint64_t, Pending> lost;
  std::function<void()> notify;
  ExitInfo exit;
  std::optional<std::uint64_t> maybe_started;
  {
    std::lock_guard lock(mutex_);
    // Only the supervisor's word counts: it sets exit_ first.
    if (!exit_) return true;
    exit = *exit_;
    lost.swap(pending_);
    deadlines_.clear();
    stop_accepting_locked(true, notify);
    // Tasks run one at a time, in order: of those never answered (settled
    // here, or cancelled or timed out before), only the oldest can have
    // started; the others were queued behind it.
    if (!lost.empty()) maybe_started = lost.begin()->first;
    if (!unanswered_.empty() && (!maybe_started || *unanswered_.begin() < *maybe_started)) {
      maybe_started = *unanswered_.begin();
    }
  }
  if (notify) notify();
  for (auto& [task_id, pending] : lost) {
    const bool started = task_id == maybe_started;
    const std::string what = "the runner (pid " + std::to_string(pid_) + ") " +
                             exit.description + " before the task " +
                             (started ? "finished" : "started");
    pending.done(nullptr, started ? std::make_exception_ptr(IsolateExited(
                                        what, exit.exit_code, exit.signal, exit.crash_report))
                                  : std::make_exception_ptr(TaskNotStarted(
                                        what, exit.exit_code, exit.signal, exit.crash_report)));
  }
  settle_refused();
  {
    std::lock_guard lock(mutex_);
    ended_ = true;
  }
  ended_changed_.notify_all();
  return false;
}

void RunnerCore::erase_deadline_locked(Clock::time_point deadline, std::uint64_t id) {
  auto [first, last] = deadlines_.equal_range(deadline);
  for (auto it = first; it != last; ++it) {
    if (it->second == id) {
      deadlines_.erase(it);
      return;
    }
  }
}

void RunnerCore::expire_overdue() {
  std::vector<Pending> expired;
  std::function<void()> notify;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      const auto found = pending_.find(deadlines_.begin()->second);
      deadlines_.erase(deadlines_.begin());
      if (found == pending_.end()) continue;
      unanswered_.insert(found->first);
      expired.push_back(std::move(found->second));
      pending_.erase(found);
    }
    if (expired.empty()) return;
    // It may be stuck in the task: no more work for it, and it is killed.
    stop_accepting_locked(true, notify);
  }
  if (notify) notify();
  for (auto& pending : expired) {
    pending.done(nullptr,
                 std::make_exception_ptr(TimeoutError(
                     "the task did not finish within " + std::to_string(pending.timeout->count()) +
                     " ms; its runner (pid " + std::to_string(pid_) + ") is killed")));
  }
  kill_now();
}

}  // namespace isolated::detail
