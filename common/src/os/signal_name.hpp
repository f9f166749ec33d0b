// Signals by name, for what a person reads: exit descriptions, crash-test
// outcomes, matcher descriptions.
#pragma once

#include <string>

namespace isolated::detail {

// "SIGSEGV"; "signal 77" for a number without a name.
std::string signal_abbreviation(int signal);

// "SIGSEGV (Segmentation fault)".
std::string describe_signal(int signal);

}  // namespace isolated::detail
