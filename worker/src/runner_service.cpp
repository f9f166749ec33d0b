// The worker side of an IsolateRunner: every request is an *event* of the
// isolate (a listener call), so pause holds tasks back and kill before the
// next event lands between two tasks; the control plane (ping, kill) keeps
// running on the runtime's own thread while a task runs.
#include "exports.hpp"
#include "modules.hpp"
#include "runner_protocol.hpp"
#include "runtime.hpp"

#include <isolated/detail/runtime_calls.hpp>
#include <isolated/error.hpp>
#include <isolated/receive_port.hpp>
#include <isolated/send.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace isolated::detail {
namespace {

// Events run on the worker's main thread only, so the cache needs no lock.
AnyFunction resolve_cached(const CodeAddress& code) {
  static std::map<std::pair<std::string, std::uint64_t>, AnyFunction> resolved;
  const auto key = std::make_pair(code.module, code.offset);
  const auto found = resolved.find(key);
  if (found != resolved.end()) return found->second;
  auto* function = reinterpret_cast<AnyFunction>(const_cast<void*>(resolve_code(code)));
  resolved.emplace(key, function);
  return function;
}

void reply_error(const SendPort& host, std::uint64_t id, const std::string& what,
                 std::vector<std::byte>& reply) {
  encode_task_failure(id, "isolated::Error", what, "", reply);
  post_message(host, reply);
}

// [kTask, id, trampoline, target, argument]: code addresses in this binary.
void run_task(const std::vector<Message>& request, std::uint64_t id, const SendPort& host,
              std::vector<std::byte>& reply) {
  RunnerTrampoline run = nullptr;
  AnyFunction function = nullptr;
  try {
    run = reinterpret_cast<RunnerTrampoline>(resolve_cached(request.at(2).as<CodeAddress>()));
    function = resolve_cached(request.at(3).as<CodeAddress>());
  } catch (const Error& e) {
    reply_error(host, id, e.what(), reply);
    return;
  }
  run(function, request.at(4), id, host, reply);
}

// [kNamedTask, id, name, argument]: a function ISOLATED_EXPORT registered.
void run_named_task(const std::vector<Message>& request, std::uint64_t id, const SendPort& host,
                    std::vector<std::byte>& reply) {
  const auto name = request.at(2).as<std::string>();
  const auto exported = find_export(name);
  if (!exported) {
    reply_error(host, id,
                "this worker binary exports no function named \"" + name +
                    "\"; it exports: " + exported_names(),
                reply);
    return;
  }
  exported->trampoline(exported->target, request.at(3), id, host, reply);
}

// Which task runs now, and which queued ones the host cancelled. Cancel
// messages arrive on a direct port, handled by whichever thread drains the
// inbox, while a task may be running on the main thread; the mutex makes
// "start the task" and "cancel it" happen one after the other.
class TaskGate {
 public:
  // Before task `id`: false if it was cancelled (skip it); else it is the
  // running task from now on.
  bool start(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    cancelled_.erase(cancelled_.begin(), cancelled_.lower_bound(id));  // ids grow
    if (cancelled_.erase(id) != 0) return false;
    running_ = id;
    last_started_ = id;
    return true;
  }
  void finish() {
    std::lock_guard lock(mutex_);
    running_ = 0;
  }
  // True if `id` is running now: only the process's end can stop it. A task
  // that has finished already is left alone.
  bool cancel(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    if (id == running_) return true;
    if (id > last_started_) cancelled_.insert(id);
    return false;
  }

 private:
  std::mutex mutex_;
  std::uint64_t running_ = 0;  // ids start at 1
  std::uint64_t last_started_ = 0;
  std::set<std::uint64_t> cancelled_;
};

}  // namespace

void serve_runner(SendPort host) {
  Runtime& runtime = Runtime::require();
  auto gate = std::make_shared<TaskGate>();
  const std::uint64_t cancel_port = runtime.open_direct_port([gate, &runtime](Message message) {
    if (gate->cancel(std::get<0>(message.as<std::tuple<std::uint64_t>>()))) {
      runtime.exit_process(0);  // the host replaces this runner
    }
  });
  // Lives until the close request; the event loop keeps the worker alive
  // while the request port is listened to, and ends the worker once it is
  // closed.
  auto* requests = new ReceivePort();
  requests->listen([requests, cancel_port, gate, host, &runtime](Message request) {
    thread_local std::vector<std::byte> reply;
    const auto parts = request.as<std::vector<Message>>();
    const auto kind = static_cast<RunnerRequest>(parts.at(0).as<int>());
    if (kind == RunnerRequest::close) {
      runtime.close_port(cancel_port);
      delete requests;  // closes the port; the handler running now is a copy
      return;
    }
    const auto id = parts.at(1).as<std::uint64_t>();
    if (!gate->start(id)) {
      host.send(std::tuple<int, std::uint64_t>(kSkipped, id));
      return;
    }
    // Decoded once, above; the tasks read their fields from `parts`.
    if (kind == RunnerRequest::named_task) {
      run_named_task(parts, id, host, reply);
    } else {
      run_task(parts, id, host, reply);
    }
    gate->finish();
  });
  host.send(std::tuple<int, SendPort, SendPort>(kReady, requests->send_port(),
                                                SendPort(runtime.inbox_name(), cancel_port)));
}

}  // namespace isolated::detail
