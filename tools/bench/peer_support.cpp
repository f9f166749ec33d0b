#include "peer_support.hpp"

#include <sys/mman.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace isolated::bench {

void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

SharedMapping::SharedMapping(std::size_t bytes) : bytes_(bytes) {
  base_ = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base_ == MAP_FAILED) throw_errno("mmap");
}

SharedMapping::~SharedMapping() { ::munmap(base_, bytes_); }

void stamp(std::vector<unsigned char>& message, std::uint64_t index) {
  std::memcpy(message.data(), &index, std::min(message.size(), sizeof index));
}

std::vector<unsigned char> make_message(std::size_t bytes) {
  std::vector<unsigned char> message(bytes);
  for (std::size_t i = 0; i < bytes; ++i) message[i] = static_cast<unsigned char>(0x5a ^ i);
  return message;
}

std::uint64_t byte_sum(const unsigned char* bytes, std::size_t n) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += bytes[i];
  return sum;
}

void expect_clean_exit(ForkedChild& child, const char* what) {
  const int status = child.wait();
  if (status != 0) {
    throw std::runtime_error(std::string(what) + ": the child exited with status " +
                             std::to_string(status));
  }
}

bool has_exited(const ForkedChild& child) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(child.pid()), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return true;  // not our child any more: as good as gone
  }
  return info.si_pid != 0;
}

}  // namespace isolated::bench
