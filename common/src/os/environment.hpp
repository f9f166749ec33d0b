// Tuning knobs read from the environment, parsed in one place.
#pragma once

#include <optional>

namespace isolated::detail {

// The value of environment variable `name` if it is a whole number >= 0;
// nothing if it is unset or malformed (then the caller's default holds).
std::optional<long> environment_number(const char* name);

}  // namespace isolated::detail
