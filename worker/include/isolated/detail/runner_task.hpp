// A runner task's worker side, shared by IsolateRunner::run (the function
// travels as a code address) and ISOLATED_EXPORT (it is found by name).
#pragma once

#include <isolated/detail/encode.hpp>
#include <isolated/detail/entry.hpp>
#include <isolated/detail/exceptions.hpp>
#include <isolated/detail/runtime_calls.hpp>
#include <isolated/message.hpp>
#include <isolated/send_port.hpp>
#include <isolated/transferable.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace isolated::detail {

// The worker side of a task: decodes the argument, calls the function and
// sends `host` the reply [kind 0, id, 0, result] or [0, id, 1, type, what,
// stack]. Blocks in the result go to the host only if the reply went out
// (else they stay here, and are freed with the result).
using RunnerTrampoline = void (*)(AnyFunction target, const Message& argument, std::uint64_t id,
                                  const SendPort& host, std::vector<std::byte>& reply);

inline constexpr int kRunnerReply = 0;

// The reply of a task that failed: [kRunnerReply, id, 1, type, what, stack].
inline void encode_task_failure(std::uint64_t id, const std::string& type, const std::string& what,
                                const std::string& stack, std::vector<std::byte>& reply) {
  reply.clear();
  encode(std::tuple<int, std::uint64_t, int, const std::string&, const std::string&,
                    const std::string&>(kRunnerReply, id, 1, type, what, stack),
         reply);
}

template <class R, class Param>
void run_runner_task(AnyFunction target, const Message& argument, std::uint64_t id,
                     const SendPort& host, std::vector<std::byte>& reply) {
  const auto failed = [&](const std::string& what) {
    encode_task_failure(id, current_exception_type_name(), what, current_stack_trace(), reply);
  };
  TransferScope transfers;
  reply.clear();
  try {
    auto* function = reinterpret_cast<R (*)(Param)>(target);
    if constexpr (std::is_void_v<R>) {
      function(argument.as<std::remove_cvref_t<Param>>());
      encode(std::tuple<int, std::uint64_t, int>(kRunnerReply, id, 0), reply);
    } else {
      R result = function(argument.as<std::remove_cvref_t<Param>>());  // commit() empties it
      encode(std::tuple<int, std::uint64_t, int, const R&>(kRunnerReply, id, 0, result), reply);
      if (post_message(host, reply)) transfers.commit();
      return;
    }
  } catch (const std::exception& e) {
    failed(e.what());
  } catch (...) {
    failed("a non-std::exception was thrown");
  }
  post_message(host, reply);
}

}  // namespace isolated::detail
