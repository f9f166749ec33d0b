// compute(f, arg) and run(f): a one-shot isolate that runs one function and
// brings back its result, or its exception as RemoteError, or why it died as
// IsolateExited (DESIGN §1, §6; Flutter's compute, Dart's Isolate.run).
#pragma once

#include <isolated/detail/encode.hpp>
#include <isolated/detail/entry.hpp>
#include <isolated/detail/exceptions.hpp>
#include <isolated/error.hpp>
#include <isolated/isolate.hpp>
#include <isolated/message.hpp>
#include <isolated/transferable.hpp>

#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace isolated::detail {

// How an isolate ended, as its parent saw it.
struct ExitInfo {
  std::optional<int> exit_code;
  std::optional<int> signal;
  bool clean = false;        // it said goodbye before it exited
  std::string description;   // "exited with code 3", "killed by SIGSEGV (Segmentation fault)"
  std::string crash_report;  // signal, fault address, backtrace; "" if none
};

// Called once, when the compute isolate's outcome is known: with its reply as
// soon as that arrives (on the thread that drains this process's inbox; the
// worker may still be ending, and `exit` is then empty), or, if the isolate
// ended without one, with nothing and how it ended (on the supervisor's thread).
using ComputeDone = std::function<void(std::optional<Message> reply, const ExitInfo& exit)>;

// Writes the message a one-shot isolate starts with, given its reply port.
using EncodeMessage = std::function<void(const SendPort& reply, std::vector<std::byte>& out)>;

// Spawns an isolate running `entry` with the message that `encode_message`
// writes for the given reply port. Throws IsolateSpawnError.
void spawn_compute(const EntryPoint& entry, const EncodeMessage& encode_message, ComputeDone done);

// Runs in the worker: calls `invoke` and sends its outcome to the reply
// port, then ends the isolate. Outcome: [0, result] ([0] for void), or
// [1, type name, what(), stack trace].
template <class R, class Invoke>
[[noreturn]] void report_outcome(const SendPort& reply, Invoke&& invoke) {
  std::vector<std::byte> outcome;
  const auto failed = [&](std::string what) {
    outcome.clear();
    encode(std::tuple<int, std::string, std::string, std::string>(
               1, current_exception_type_name(), std::move(what), current_stack_trace()),
           outcome);
  };
  try {
    if constexpr (std::is_void_v<R>) {
      invoke();
      encode(std::tuple<int>(0), outcome);
    } else {
      // Kept until the process ends (exit_isolate does not return), so a
      // transferable in the result is not freed before the parent maps it.
      static thread_local std::optional<R> result;
      result.emplace(invoke());
      encode(std::tuple<int, const R&>(0, *result), outcome);
    }
  } catch (const std::exception& e) {
    failed(e.what());
  } catch (...) {
    failed("a non-std::exception was thrown");
  }
  exit_isolate(reply, outcome);
}

// The trampolines: compute(f, arg) sends [reply, arg], run(f) sends [reply, nil].
template <class R, class Param>
void call_compute(AnyFunction target, Message message) {
  auto [reply, argument] = message.as<std::tuple<SendPort, Message>>();
  auto* function = reinterpret_cast<R (*)(Param)>(target);
  report_outcome<R>(reply, [&]() -> R { return function(argument.as<std::remove_cvref_t<Param>>()); });
}

template <class R>
void call_run(AnyFunction target, Message message) {
  auto [reply, nothing] = message.as<std::tuple<SendPort, Message>>();
  auto* function = reinterpret_cast<R (*)()>(target);
  report_outcome<R>(reply, [&]() -> R { return function(); });
}

template <class R>
void settle(std::promise<R>& promise, std::optional<Message> reply, const ExitInfo& exit) {
  try {
    if (!reply) {
      throw IsolateExited("the compute isolate " + exit.description + " before it sent a result",
                          exit.exit_code, exit.signal, exit.crash_report);
    }
    const auto tag = reply->as<std::vector<Message>>();
    if (!tag.empty() && tag[0].as<int>() == 1) {
      const auto [kind, type, what, stack] =
          reply->as<std::tuple<int, std::string, std::string, std::string>>();
      throw RemoteError(type, what, stack);
    }
    if constexpr (std::is_void_v<R>) {
      promise.set_value();
    } else {
      promise.set_value(std::get<1>(reply->as<std::tuple<int, R>>()));
    }
  } catch (...) {
    promise.set_exception(std::current_exception());
  }
}

// compute's message, for the fresh reply port: [reply, argument].
template <class Arg>
EncodeMessage compute_message(const Arg& argument) {
  return [&argument](const SendPort& reply, std::vector<std::byte>& out) {
    encode(std::tuple<const SendPort&, const Arg&>(reply, argument), out);
  };
}

// The entry of compute(f, arg) and run(f): the function's address and the
// trampoline that decodes its argument and reports its outcome. F is
// stateless (check_stateless).
template <class F, class A>
EntryPoint compute_entry(F f) {
  auto* function = +f;
  using R = std::invoke_result_t<F&, std::decay_t<A>>;
  using Param = typename entry_argument<decltype(function)>::type;
  return {&call_compute<R, Param>, reinterpret_cast<AnyFunction>(function)};
}

template <class F>
EntryPoint run_entry(F f) {
  auto* function = +f;
  return {&call_run<std::invoke_result_t<F&>>, reinterpret_cast<AnyFunction>(function)};
}

template <class R, class Arg>
std::future<R> start_compute(const EntryPoint& entry, const Arg& argument) {
  auto promise = std::make_shared<std::promise<R>>();
  std::future<R> future = promise->get_future();
  TransferScope transfers;  // transferables in the argument go with the worker
  spawn_compute(entry, compute_message(argument),
                [promise](std::optional<Message> reply, const ExitInfo& exit) {
                  settle(*promise, std::move(reply), exit);
                });
  transfers.commit();
  return future;
}

}  // namespace isolated::detail

namespace isolated {

// Runs f(arg) in a new isolate. F is a plain function or a capture-less lambda.
template <class F, class A>
std::future<std::invoke_result_t<F&, std::decay_t<A>>> compute(F f, A&& arg) {
  detail::check_stateless<F>();
  using R = std::invoke_result_t<F&, std::decay_t<A>>;
  if constexpr (detail::is_stateless_callable<F>) {
    return detail::start_compute<R>(detail::compute_entry<F, A>(f),
                                    std::decay_t<A>(std::forward<A>(arg)));
  } else {
    return {};
  }
}

// Runs f() in a new isolate (Dart's Isolate.run).
template <class F>
std::future<std::invoke_result_t<F&>> run(F f) {
  detail::check_stateless<F>();
  using R = std::invoke_result_t<F&>;
  if constexpr (detail::is_stateless_callable<F>) {
    return detail::start_compute<R>(detail::run_entry(f), nullptr);
  } else {
    return {};
  }
}

}  // namespace isolated
