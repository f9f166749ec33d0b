#include "zygote_spare.hpp"

#include "zygote_protocol.hpp"
#include "common/src/os/socket_message.hpp"
#include "worker/src/boot.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <span>
#include <string>

namespace isolated::detail {
namespace {

// The spare's end of its socket, once everything else is closed.
constexpr int kSpareSocketFd = 3;

// Exit codes of a spare that never became a worker (its spawner reaps it
// silently; they show only in a trace).
constexpr int kSpawnerGone = 72;   // as run_worker's own check
constexpr int kBadRequest = 71;

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "isolated spare %d: %s\n", static_cast<int>(::getpid()), why.c_str());
  std::fflush(stderr);
  ::_exit(kBadRequest);
}

// The descriptors the request carries become the worker's: its working
// directory, then stdin, stdout and stderr as the flags say.
void take_descriptors(const BootRequest& request, ReceivedMessage& received) {
  std::size_t next = 0;
  auto take = [&](std::uint32_t flag) -> int {
    if ((request.flags & flag) == 0) return -1;
    if (next >= received.descriptors.size()) fail("the boot request lacks a descriptor");
    return received.descriptors[next++].get();
  };
  const int directory = take(kBootWorkingDirectory);
  if (directory >= 0 && ::fchdir(directory) != 0) fail("cannot enter the spawner's directory");
  const int std_fds[] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
  const std::uint32_t std_flags[] = {kBootStdin, kBootStdout, kBootStderr};
  for (int i = 0; i < 3; ++i) {
    const int fd = take(std_flags[i]);
    if (fd >= 0 && ::dup2(fd, std_fds[i]) < 0) fail("cannot take the given stdin/stdout/stderr");
  }
  if ((request.flags & kBootNoCoreDump) != 0) {
    const rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
  }
  if ((request.flags & kBootOwnProcessGroup) != 0) ::setpgid(0, 0);
  received.descriptors.clear();
}

}  // namespace

void run_spare(int socket, const SpareInheritance& inheritance) {
  ::syscall(SYS_set_robust_list, inheritance.robust_list_head, inheritance.robust_list_length);
  // Its parent is the spawner's launcher thread (CLONE_PARENT), which lives
  // as long as the spawner. If the spawner died before the prctl, we were
  // re-parented already.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != inheritance.spawner_pid) ::_exit(kSpawnerGone);
  // Until it becomes a worker (then it takes the program's name back).
  ::prctl(PR_SET_NAME, "isolated-spare", 0, 0, 0);
  // The zygote's descriptors (its socket to the spawner) are not ours.
  if (socket != kSpareSocketFd) ::dup2(socket, kSpareSocketFd);
  ::close_range(kSpareSocketFd + 1, ~0U, 0);

  // The request, then the record if it came inline. Not zero-filled: only
  // the pages the message lands in are touched.
  const std::size_t capacity = sizeof(BootRequest) + kMaxInlineBootRecord;
  const auto buffer = std::make_unique_for_overwrite<std::byte[]>(capacity);
  ReceivedMessage received;
  try {
    received = receive_message(kSpareSocketFd, std::span(buffer.get(), capacity));
  } catch (const std::exception& e) {
    fail(std::string("cannot read the boot request: ") + e.what());
  }
  if (received.size == 0) ::_exit(0);  // the spawner no longer needs a spare
  BootRequest request;
  if (received.size < sizeof request) fail("a boot request too short");
  std::memcpy(&request, buffer.get(), sizeof request);
  const bool inline_record = (request.flags & kBootRecordInline) != 0;
  if (inline_record && received.size != sizeof request + request.record_bytes) {
    fail("a boot request whose record is cut short");
  }
  take_descriptors(request, received);
  ::close(kSpareSocketFd);
  ::prctl(PR_SET_NAME, inheritance.process_name, 0, 0, 0);

  try {
    if (inline_record) {
      run_worker(std::span<const std::byte>(buffer.get() + sizeof request, request.record_bytes));
    }
    const std::size_t length = ::strnlen(request.boot_record, sizeof request.boot_record);
    if (length == sizeof request.boot_record) fail("the boot record's name is not terminated");
    run_worker(std::string_view(request.boot_record, length));
  } catch (const std::exception& e) {
    fail(std::string("cannot start the worker: ") + e.what());
  }
}

}  // namespace isolated::detail
