// A runner task's worker side, shared by IsolateRunner::run (the function
// travels as a code address) and ISOLATED_EXPORT (it is found by name).
#pragma once

#include <isolated/detail/encode.hpp>
#include <isolated/detail/entry.hpp>
#include <isolated/detail/exceptions.hpp>
#include <isolated/message.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace isolated::detail {

// The worker side of a task: decodes the argument, calls the function and
// writes the reply [kind 0, id, 0, result] or [0, id, 1, type, what, stack].
using RunnerTrampoline = void (*)(AnyFunction target, const Message& argument, std::uint64_t id,
                                  std::vector<std::byte>& reply);

inline constexpr int kRunnerReply = 0;

template <class R, class Param>
void run_runner_task(AnyFunction target, const Message& argument, std::uint64_t id,
                     std::vector<std::byte>& reply) {
  const auto failed = [&](std::string what) {
    reply.clear();
    encode(std::tuple<int, std::uint64_t, int, std::string, std::string, std::string>(
               kRunnerReply, id, 1, current_exception_type_name(), std::move(what),
               current_stack_trace()),
           reply);
  };
  reply.clear();
  try {
    auto* function = reinterpret_cast<R (*)(Param)>(target);
    if constexpr (std::is_void_v<R>) {
      function(argument.as<std::remove_cvref_t<Param>>());
      encode(std::tuple<int, std::uint64_t, int>(kRunnerReply, id, 0), reply);
    } else {
      encode(std::tuple<int, std::uint64_t, int, const R&>(
                 kRunnerReply, id, 0, function(argument.as<std::remove_cvref_t<Param>>())),
             reply);
    }
  } catch (const std::exception& e) {
    failed(e.what());
  } catch (...) {
    failed("a non-std::exception was thrown");
  }
}

}  // namespace isolated::detail
