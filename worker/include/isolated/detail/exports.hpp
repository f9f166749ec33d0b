// ISOLATED_EXPORT's registry: functions a host can run by name in a runner
// that lives in another binary (DESIGN §9).
#pragma once

#include <isolated/detail/entry.hpp>
#include <isolated/detail/runner_task.hpp>

#include <string_view>

namespace isolated::detail {

// Called before main, from ISOLATED_EXPORT. A name exported twice ends the
// program with a message naming it: which function should run is unknowable.
void register_export(std::string_view name, RunnerTrampoline trampoline, AnyFunction target);

template <class R, class A>
bool export_function(std::string_view name, R (*function)(A)) {
  register_export(name, &run_runner_task<R, A>, reinterpret_cast<AnyFunction>(function));
  return true;
}

}  // namespace isolated::detail
