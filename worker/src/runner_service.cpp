// The worker side of an IsolateRunner: every request is an *event* of the
// isolate (a listener call), so pause holds tasks back and kill before the
// next event lands between two tasks; the control plane (ping, kill) keeps
// running on the runtime's own thread while a task runs.
#include "exports.hpp"
#include "modules.hpp"
#include "runner_protocol.hpp"

#include <isolated/detail/runtime_calls.hpp>
#include <isolated/error.hpp>
#include <isolated/receive_port.hpp>
#include <isolated/send.hpp>

#include <cstdint>
#include <map>
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
  reply.clear();
  encode(std::tuple<int, std::uint64_t, int, std::string, std::string, std::string>(
             kReply, id, 1, "isolated::Error", what, ""),
         reply);
  post_message(host, reply);
}

// [kTask, id, trampoline, target, argument]: code addresses in this binary.
void run_task(const Message& request, const SendPort& host, std::vector<std::byte>& reply) {
  const auto [kind, id, trampoline, target, argument] =
      request.as<std::tuple<int, std::uint64_t, CodeAddress, CodeAddress, Message>>();
  RunnerTrampoline run = nullptr;
  AnyFunction function = nullptr;
  try {
    run = reinterpret_cast<RunnerTrampoline>(resolve_cached(trampoline));
    function = resolve_cached(target);
  } catch (const Error& e) {
    reply_error(host, id, e.what(), reply);
    return;
  }
  run(function, argument, id, reply);
  post_message(host, reply);
}

// [kNamedTask, id, name, argument]: a function ISOLATED_EXPORT registered.
void run_named_task(const Message& request, const SendPort& host, std::vector<std::byte>& reply) {
  const auto [kind, id, name, argument] =
      request.as<std::tuple<int, std::uint64_t, std::string, Message>>();
  const auto exported = find_export(name);
  if (!exported) {
    reply_error(host, id,
                "this worker binary exports no function named \"" + name +
                    "\"; it exports: " + exported_names(),
                reply);
    return;
  }
  exported->trampoline(exported->target, argument, id, reply);
  post_message(host, reply);
}

// Tasks the host cancelled while they were queued here. Ids grow, so an id
// below the task about to run can never match again and is forgotten.
class Cancellations {
 public:
  explicit Cancellations(ReceivePort& port) : port_(port) {}

  // Whether task `id` was cancelled; looks at the cancel port first.
  bool cancelled(std::uint64_t id) {
    while (auto message = port_.try_receive()) {
      ids_.insert(std::get<0>(message->as<std::tuple<std::uint64_t>>()));
    }
    ids_.erase(ids_.begin(), ids_.lower_bound(id));
    return ids_.erase(id) != 0;
  }

 private:
  ReceivePort& port_;
  std::set<std::uint64_t> ids_;
};

}  // namespace

void serve_runner(SendPort host) {
  // Both live until the close request; the event loop keeps the worker alive
  // while the request port is listened to, and ends the worker once it is
  // closed.
  auto* requests = new ReceivePort();
  auto* cancel_port = new ReceivePort();
  auto* cancellations = new Cancellations(*cancel_port);
  requests->listen([requests, cancel_port, cancellations, host](Message request) {
    thread_local std::vector<std::byte> reply;
    const auto parts = request.as<std::vector<Message>>();
    const auto kind = static_cast<RunnerRequest>(parts.at(0).as<int>());
    if (kind == RunnerRequest::close) {
      delete cancellations;
      delete cancel_port;
      delete requests;  // closes the port; the handler running now is a copy
      return;
    }
    if (cancellations->cancelled(parts.at(1).as<std::uint64_t>())) return;
    if (kind == RunnerRequest::named_task) {
      run_named_task(request, host, reply);
    } else {
      run_task(request, host, reply);
    }
  });
  host.send(std::tuple<int, SendPort, SendPort>(kReady, requests->send_port(),
                                                cancel_port->send_port()));
}

}  // namespace isolated::detail
