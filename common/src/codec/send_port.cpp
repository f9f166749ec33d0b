#include <isolated/error.hpp>
#include <isolated/send_port.hpp>

#include <string>
#include <utility>

namespace isolated {

SendPort::SendPort(std::string inbox_name, std::uint64_t port_id)
    : inbox_name_(std::move(inbox_name)), port_id_(port_id) {
  if (inbox_name_.size() > kMaxInboxNameBytes || inbox_name_.find('\0') != std::string::npos) {
    throw UsageError("'" + inbox_name_ + "' cannot name an inbox: inbox names are at most " +
                std::to_string(kMaxInboxNameBytes) + " bytes and contain no NUL");
  }
}

}  // namespace isolated

std::size_t std::hash<isolated::SendPort>::operator()(
    const isolated::SendPort& port) const noexcept {
  // boost::hash_combine's mixing step: cheap, and spreads ports of one inbox.
  std::size_t seed = std::hash<std::string>{}(port.inbox_name());
  seed ^= std::hash<std::uint64_t>{}(port.port_id()) + 0x9e3779b97f4a7c15ULL + (seed << 6) +
          (seed >> 2);
  return seed;
}
