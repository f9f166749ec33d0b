// The zygote's life: greet the spawner, then fork a spare whenever it asks
// (zygote_protocol.hpp), until the spawner closes the socket or dies.
//
// Why clone3(CLONE_PARENT) and not fork: the spare becomes a child of the
// spawner (of its launcher thread, which started the zygote), so the
// spawner's supervisor watches and reaps it as it does an exec'd child, and
// its PR_SET_PDEATHSIG fires when the spawner dies. The zygote's own death
// touches none of its spares.
//
// What glibc's fork does that a raw clone3 does not, and how it is made up:
//  - the child's thread descriptor holds its own tid (mutex owners,
//    pthread_kill, sched calls on pthread_self use it): CLONE_CHILD_SETTID
//    writes it where glibc keeps it, the address PR_GET_TID_ADDRESS gives;
//  - the robust-futex list is registered again (run_spare);
//  - atfork handlers run: they do not here. That is safe only because the
//    zygote has one thread, holding no lock when it clones; a zygote that
//    finds other threads (a static initializer started them) says it is
//    unusable and the spawner execs instead.
#include "zygote.hpp"

#include "zygote_protocol.hpp"
#include "zygote_spare.hpp"
#include "common/src/os/socket_message.hpp"
#include "common/src/os/unique_fd.hpp"
#include "worker/src/crash_handler.hpp"

#include <linux/sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace isolated::detail {
namespace {

std::size_t thread_count() {
  std::error_code ec;
  std::size_t count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

// Where glibc keeps this thread's tid, or null if the kernel will not say
// (PR_GET_TID_ADDRESS needs CONFIG_CHECKPOINT_RESTORE).
int* tid_address() {
  int* address = nullptr;
  if (::prctl(PR_GET_TID_ADDRESS, &address, 0, 0, 0) != 0) return nullptr;
  if (address == nullptr || *address != static_cast<int>(::gettid())) return nullptr;
  return address;
}

// Why this zygote cannot fork spares safely; empty if it can.
std::string why_unusable(const int* tid) {
  if (tid == nullptr) {
    return "the kernel does not tell where glibc keeps the thread id (PR_GET_TID_ADDRESS)";
  }
  const std::size_t threads = thread_count();
  if (threads != 1) {
    return "it runs " + std::to_string(threads) +
           " threads (started before isolated::init, by a static initializer?)";
  }
  return "";
}

SpareInheritance inheritance_of(int spawner_pid) {
  SpareInheritance inheritance;
  inheritance.spawner_pid = spawner_pid;
  std::size_t length = 0;
  ::syscall(SYS_get_robust_list, 0, &inheritance.robust_list_head, &length);
  inheritance.robust_list_length = length;
  ::prctl(PR_GET_NAME, inheritance.process_name, 0, 0, 0);
  return inheritance;
}

// A child of our parent, not of us; 0 in the child.
pid_t clone_spare(int* tid) {
  clone_args args{};
  args.flags = CLONE_PARENT | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
  args.child_tid = reinterpret_cast<std::uintptr_t>(tid);
  // With CLONE_PARENT the child ends with the zygote's own exit signal
  // (SIGCHLD); clone3 wants 0 here.
  args.exit_signal = 0;
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

[[noreturn]] void serve(int* tid, const SpareInheritance& inheritance) {
  for (;;) {
    SpareRequest request;
    const ReceivedMessage received =
        receive_message(kZygoteSocketFd, std::as_writable_bytes(std::span(&request, 1)));
    if (received.size == 0) ::_exit(0);  // the spawner closed its end, or died

    SpareReply reply;
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
      reply.error = errno;
      if (!send_message(kZygoteSocketFd, bytes_of(reply), {})) ::_exit(0);
      continue;
    }
    UniqueFd spawner_end(pair[0]);
    UniqueFd spare_end(pair[1]);
    const pid_t pid = clone_spare(tid);
    if (pid == 0) {
      spawner_end.reset();
      run_spare(spare_end.release(), inheritance);
    }
    spare_end.reset();
    if (pid < 0) {
      reply.error = errno;
      if (!send_message(kZygoteSocketFd, bytes_of(reply), {})) ::_exit(0);
      continue;
    }
    reply.pid = pid;
    const int passed[] = {spawner_end.get()};
    if (!send_message(kZygoteSocketFd, bytes_of(reply), passed)) ::_exit(0);
  }
}

}  // namespace

void run_zygote_if_asked(int argc, char** argv) {
  if (argc < 3 || std::string_view(argv[1]) != kZygoteFlag) return;
  int spawner_pid = 0;
  const std::string_view pid_text(argv[2]);
  std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), spawner_pid);
  // PR_SET_PDEATHSIG was set before exec: if the spawner died before that,
  // we were re-parented already and must not serve.
  if (spawner_pid <= 0 || ::getppid() != spawner_pid) ::_exit(72);
  try {
    int* tid = tid_address();
    const SpareInheritance inheritance = inheritance_of(spawner_pid);
    ZygoteHello hello;
    const std::string why = why_unusable(tid);
    if (!why.empty()) {
      hello.unusable = 1;
      std::strncpy(hello.why, why.c_str(), sizeof hello.why - 1);
      send_message(kZygoteSocketFd, bytes_of(hello), {});
      ::_exit(0);
    }
    // Once, for every worker it forks.
    prepare_crash_handler();
    ::prctl(PR_SET_NAME, "isolated-zygote", 0, 0, 0);
    if (!send_message(kZygoteSocketFd, bytes_of(hello), {})) ::_exit(0);
    serve(tid, inheritance);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isolated zygote %d: %s\n", static_cast<int>(::getpid()), e.what());
    ::_exit(71);
  }
}

}  // namespace isolated::detail
