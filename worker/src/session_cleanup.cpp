#include "session_cleanup.hpp"

#include "common/src/shm/names.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace isolated::detail {
namespace {

// Prepared before any signal can arrive, so the handler only makes system
// calls: the /dev/shm directory and the name prefix of this session.
int shm_directory = -1;
char session_prefix[64];
std::size_t session_prefix_length = 0;

// The fixed part of a getdents64 record (struct linux_dirent64); the name
// follows it.
struct DirentHeader {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
};
constexpr std::size_t kDirentNameOffset = offsetof(DirentHeader, d_type) + 1;

// Async-signal-safe: getdents64 and unlinkat only.
void unlink_session_segments_now() {
  if (shm_directory < 0) return;
  ::lseek(shm_directory, 0, SEEK_SET);
  alignas(8) char buffer[4096];
  for (;;) {
    const long read = ::syscall(SYS_getdents64, shm_directory, buffer, sizeof buffer);
    if (read <= 0) return;
    for (long offset = 0; offset < read;) {
      DirentHeader entry;
      std::memcpy(&entry, buffer + offset, sizeof entry);
      const char* name = buffer + offset + kDirentNameOffset;
      if (std::strncmp(name, session_prefix, session_prefix_length) == 0) {
        ::unlinkat(shm_directory, name, 0);
      }
      offset += entry.d_reclen;
    }
  }
}

void on_terminating_signal(int signal) {
  unlink_session_segments_now();
  // End the way the signal would have ended us.
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

}  // namespace

void remove_session_segments_at_exit() {
  shm_directory = ::open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const std::string prefix = "isolated." + std::to_string(session_root_pid()) + ".";
  std::strncpy(session_prefix, prefix.c_str(), sizeof session_prefix - 1);
  session_prefix_length = std::strlen(session_prefix);

  std::atexit([] { unlink_session_segments_now(); });
  for (const int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    struct sigaction action {};
    // Leave a handler the program installed (or an ignored signal) alone.
    if (::sigaction(signal, nullptr, &action) == 0 && action.sa_handler != SIG_DFL) continue;
    action = {};
    action.sa_handler = &on_terminating_signal;
    sigemptyset(&action.sa_mask);
    ::sigaction(signal, &action, nullptr);
  }
}

}  // namespace isolated::detail
