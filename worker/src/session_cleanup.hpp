// A root isolate removes what is left of its session's shared memory when it
// ends: on a normal exit, and on SIGINT, SIGTERM, SIGHUP and SIGQUIT (DESIGN §11).
#pragma once

namespace isolated::detail {

void remove_session_segments_at_exit();

}  // namespace isolated::detail
