// isolated::init: a worker runs its isolate; a root starts its runtime and
// arranges that its session's segments go when it does (DESIGN §2, §11).
#include "boot.hpp"
#include "runtime.hpp"
#include "supervisor.hpp"

#include <isolated/init.hpp>

#include <mutex>

namespace isolated {

namespace detail {

void ensure_supervision() {
  static std::once_flag once;
  std::call_once(once, [] {
    Runtime::require().set_supervisor_handler(
        [](Message report) { Supervisor::get().on_report(std::move(report)); });
  });
}

}  // namespace detail

void init(int argc, char** argv) {
  detail::run_worker_if_spawned(argc, argv);  // a worker never comes back

  detail::start_root_runtime();
  detail::ensure_supervision();
}

}  // namespace isolated
