#include <isolated/error.hpp>

#include <utility>

namespace isolated {

RemoteError::RemoteError(std::string type_name, std::string message, std::string stack_trace)
    : Error(type_name + ": " + message),
      type_name_(std::move(type_name)),
      message_(std::move(message)),
      stack_trace_(std::move(stack_trace)) {}

IsolateExited::IsolateExited(const std::string& what, std::optional<int> exit_code,
                             std::optional<int> signal, std::string crash_report)
    : Error(what), exit_code_(exit_code), signal_(signal), crash_report_(std::move(crash_report)) {}

}  // namespace isolated
