#include "spare_handoff.hpp"

#include "zygote_protocol.hpp"
#include "common/src/os/socket_message.hpp"
#include "common/src/os/unique_fd.hpp"

#include <fcntl.h>

#include <cstring>
#include <utility>
#include <vector>

namespace isolated::detail {
namespace {

// The descriptors a BootRequest carries, in the order zygote_protocol.hpp
// gives, and the flags that say which they are.
struct BootDescriptors {
  UniqueFd working_directory;
  std::vector<int> fds;
  std::uint32_t flags = 0;
};

BootDescriptors boot_descriptors(const LaunchOptions& options) {
  BootDescriptors boot;
  boot.working_directory.reset(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (boot.working_directory) {
    boot.flags |= kBootWorkingDirectory;
    boot.fds.push_back(boot.working_directory.get());
  }
  const std::pair<int, std::uint32_t> standard[] = {
      {options.stdin_fd, kBootStdin}, {options.stdout_fd, kBootStdout},
      {options.stderr_fd, kBootStderr}};
  for (const auto& [fd, flag] : standard) {
    if (fd < 0) continue;
    boot.flags |= flag;
    boot.fds.push_back(fd);
  }
  if (options.no_core_dump) boot.flags |= kBootNoCoreDump;
  if (options.own_process_group) boot.flags |= kBootOwnProcessGroup;
  return boot;
}

}  // namespace

bool hand_boot_record(int spare_socket, const BootRecordHandoff& boot_record,
                      const LaunchOptions& options) {
  const BootDescriptors descriptors = boot_descriptors(options);
  BootRequest request;
  request.flags = descriptors.flags;
  if (!boot_record.encoded.empty()) {
    request.flags |= kBootRecordInline;
    request.record_bytes = static_cast<std::uint32_t>(boot_record.encoded.size());
  } else {
    std::strncpy(request.boot_record, boot_record.segment.c_str(), sizeof request.boot_record - 1);
  }
  // One message: the request, then the record.
  std::vector<std::byte> message;
  const auto header = bytes_of(request);
  message.reserve(header.size() + boot_record.encoded.size());
  message.insert(message.end(), header.begin(), header.end());
  message.insert(message.end(), boot_record.encoded.begin(), boot_record.encoded.end());
  return send_message(spare_socket, message, descriptors.fds);
}

}  // namespace isolated::detail
