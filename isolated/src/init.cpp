// isolated::init: a worker runs its isolate; a root starts its runtime and
// arranges that its session's segments go when it does (DESIGN §2, §11).
#include "spawn.hpp"
#include "supervisor.hpp"
#include "worker/src/boot.hpp"

#include <isolated/init.hpp>

namespace isolated {

void init(int argc, char** argv) {
  // Workers of this program spawn too (nested isolates).
  detail::install_spawning();
  detail::run_worker_if_spawned(argc, argv);  // a worker never comes back

  detail::start_root_runtime();
  detail::Supervisor::attach_to_runtime();
}

}  // namespace isolated
