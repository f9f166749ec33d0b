// What a runner's host and its worker say to each other (DESIGN §8).
//
// To the worker's request port:  [kTask, id, trampoline, target, argument]
//                                (code addresses as (module, offset)), [kClose],
//                                [kNamedTask, id, exported name, argument]
// To the worker's cancel port:   [id] (handled as it arrives: a queued task is
//                                skipped, the running one ends the worker)
// To the host's reply port:      [kReply, id, 0, result] / [kReply, id, 1, type, what, stack],
//                                [kReady, request port, cancel port] (the worker's first word),
//                                [kEnded] (from the supervisor, after the last reply),
//                                [kWake] (a new deadline to watch, or a refusal to settle),
//                                [kSkipped, id] (a cancelled task the worker did not run).
#pragma once

#include <isolated/detail/runner_task.hpp>
#include <isolated/send_port.hpp>

namespace isolated::detail {

enum class RunnerRequest : int { task = 0, close = 1, named_task = 2 };

inline constexpr int kReply = kRunnerReply;
inline constexpr int kEnded = 1;
inline constexpr int kReady = 2;
inline constexpr int kWake = 3;
inline constexpr int kSkipped = 4;

// The worker's entry: serves requests as events until told to close.
void serve_runner(SendPort host);

}  // namespace isolated::detail
