// Before spawn_uri starts a program: is it there, executable, and a worker
// binary (DESIGN §9)? A program that is not one would be run with arguments it
// does not understand and never greet its parent; this check makes that an
// IsolateSpawnError at once, with the reason.
#pragma once

#include <string>

namespace isolated::detail {

// Throws IsolateSpawnError saying what is wrong with `path`.
void check_worker_binary(const std::string& path);

}  // namespace isolated::detail
