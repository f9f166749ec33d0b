// IsolateRunner: one worker process that runs `(function, argument)` tasks one
// at a time, in order, reusing its process (DESIGN §8; package:isolate's
// IsolateRunner). Results come back as in compute: a value, the remote
// exception as RemoteError, or IsolateExited if the process dies first.
#pragma once

#include <isolated/detail/encode.hpp>
#include <isolated/detail/entry.hpp>
#include <isolated/detail/exceptions.hpp>
#include <isolated/detail/runner_task.hpp>
#include <isolated/error.hpp>
#include <isolated/isolate.hpp>
#include <isolated/message.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace isolated {

struct RunOptions {
  // Counted from the call to run(). When it passes, the future fails with
  // TimeoutError and the runner is killed: it may be stuck in the task.
  std::optional<std::chrono::milliseconds> timeout;
  // LoadBalancer only: how often a task whose runner died is re-run on another.
  int retries = 0;
};

}  // namespace isolated

namespace isolated::detail {

// A task as it travels: the trampoline and function (as code addresses, made
// by the runner), and the argument, encoded once (a retry re-sends it as is).
struct RunnerTask {
  AnyFunction trampoline = nullptr;  // a RunnerTrampoline
  AnyFunction target = nullptr;
  std::string exported_name;  // instead of the two above: an ISOLATED_EXPORT name
  Message argument;
};

// Called exactly once per task: with the reply (the parts of the list
// [kind, id, 0, result] or [kind, id, 1, type, what, stack], decoded once by
// the runner), or with why there is none
// (TimeoutError, IsolateExited, Error). Never called under a runner's lock.
using RunnerDone = std::function<void(const std::vector<Message>* reply, std::exception_ptr error)>;

// Cancels a submitted task (see LoadBalancer::submit_task).
using CancelTask = std::function<void()>;

template <class F, class A>
using run_result_t = std::invoke_result_t<F&, std::decay_t<A>>;

template <class F, class A>
RunnerTask make_runner_task(F f, A&& argument) {
  auto* function = +f;
  using Param = typename entry_argument<decltype(function)>::type;
  using R = run_result_t<F, A>;
  std::vector<std::byte> bytes;
  encode(argument, bytes);
  RunnerTask task;
  task.trampoline = reinterpret_cast<AnyFunction>(&run_runner_task<R, Param>);
  task.target = reinterpret_cast<AnyFunction>(function);
  task.argument = Message::decode(bytes);
  return task;
}

template <class A>
RunnerTask make_named_task(std::string_view exported_name, A&& argument) {
  if (exported_name.empty()) {
    throw UsageError("isolated: run(name, arg) needs the name of an exported function");
  }
  std::vector<std::byte> bytes;
  encode(argument, bytes);
  RunnerTask task;
  task.exported_name = exported_name;
  task.argument = Message::decode(bytes);
  return task;
}

// A future and the RunnerDone that settles it.
template <class R>
std::pair<std::future<R>, RunnerDone> promised() {
  auto promise = std::make_shared<std::promise<R>>();
  std::future<R> future = promise->get_future();
  RunnerDone done = [promise](const std::vector<Message>* reply, std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
      const std::vector<Message>& parts = *reply;
      if (parts.at(2).as<int>() != 0) {
        throw RemoteError(parts.at(3).as<std::string>(), parts.at(4).as<std::string>(),
                          parts.at(5).as<std::string>());
      }
      if constexpr (std::is_void_v<R>) {
        promise->set_value();
      } else {
        promise->set_value(parts.at(3).as<R>());
      }
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  };
  return {std::move(future), std::move(done)};
}

class RunnerCore;  // isolated/src/runner_core.hpp
class Pool;        // isolated/src/pool.hpp

}  // namespace isolated::detail

namespace isolated {

class LoadBalancer;

class IsolateRunner {
 public:
  // Starts the worker (this same program) and returns once it runs. Throws
  // IsolateSpawnError. With `paused`, tasks wait until it is resumed.
  static IsolateRunner spawn(SpawnOptions options = {});
  // Starts the worker binary at `path` (one made with ISOLATED_WORKER_MAIN),
  // whose ISOLATED_EXPORT functions run(name, arg) runs. Throws
  // IsolateSpawnError, saying why, if `path` is missing, not executable or
  // not a worker binary.
  static IsolateRunner spawn_uri(const std::string& path, SpawnOptions options = {});

  IsolateRunner(IsolateRunner&& other) noexcept;
  IsolateRunner& operator=(IsolateRunner&& other) noexcept;
  IsolateRunner(const IsolateRunner&) = delete;
  IsolateRunner& operator=(const IsolateRunner&) = delete;
  // Closes the runner gracefully (see close()).
  ~IsolateRunner();

  // Runs f(arg) in the runner's process, after the tasks sent before it. F is
  // a plain function or a capture-less lambda. The future fails with
  // RemoteError (f threw), IsolateExited (the process died first: it names the
  // signal or exit code), TimeoutError (options.timeout), or Error (the runner
  // is closed).
  template <class F, class A>
  std::future<detail::run_result_t<F, A>> run(F f, A&& arg, RunOptions options = {}) {
    detail::check_stateless<F>();
    using R = detail::run_result_t<F, A>;
    if constexpr (detail::is_stateless_callable<F>) {
      auto [future, done] = detail::promised<R>();
      submit(detail::make_runner_task(f, std::forward<A>(arg)), options, std::move(done));
      return std::move(future);
    } else {
      return {};
    }
  }

  // Runs the function that the runner's binary exported as `exported_name`
  // (ISOLATED_EXPORT) with `arg`; its result must decode as R. A name the
  // binary does not export fails with RemoteError listing the names it does.
  template <class R, class A>
  std::future<R> run(std::string_view exported_name, A&& arg, RunOptions options = {}) {
    auto [future, done] = detail::promised<R>();
    submit(detail::make_named_task(exported_name, std::forward<A>(arg)), options, std::move(done));
    return std::move(future);
  }

  // Graceful: takes no more tasks, finishes the queued ones, then the worker
  // ends. Returns once the process has ended. (A paused runner must be
  // resumed first, or close() waits for that.)
  void close();
  // Takes no more tasks; asks the worker to end after its current task, and
  // after `grace` ends it at once. Queued and running tasks fail with
  // IsolateExited. Returns once the process has ended.
  void kill(std::chrono::milliseconds grace);
  // Whether the worker answers within `timeout`; it does while a task runs.
  bool ping(std::chrono::milliseconds timeout);

  const Isolate& isolate() const;

 private:
  friend class LoadBalancer;
  friend class detail::Pool;
  explicit IsolateRunner(std::shared_ptr<detail::RunnerCore> core);
  void submit(detail::RunnerTask task, const RunOptions& options, detail::RunnerDone done);
  // The pool takes the runner over.
  std::shared_ptr<detail::RunnerCore> release_core();

  std::shared_ptr<detail::RunnerCore> core_;
};

}  // namespace isolated
