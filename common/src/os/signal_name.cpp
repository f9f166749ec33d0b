#include "signal_name.hpp"

#include <string.h>

namespace isolated::detail {

std::string signal_abbreviation(int signal) {
  const char* abbreviation = ::sigabbrev_np(signal);
  return abbreviation ? std::string("SIG") + abbreviation : "signal " + std::to_string(signal);
}

std::string describe_signal(int signal) {
  const char* description = ::sigdescr_np(signal);
  return signal_abbreviation(signal) + " (" + (description ? description : "unknown signal") + ")";
}

}  // namespace isolated::detail
