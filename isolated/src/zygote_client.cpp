#include "zygote_client.hpp"

#include "spawn.hpp"
#include "zygote_protocol.hpp"
#include "common/src/os/environment.hpp"
#include "common/src/os/socket_message.hpp"
#include "common/src/os/syscall.hpp"
#include "common/src/os/unique_fd.hpp"
#include "worker/src/runtime.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <set>

namespace isolated::detail {
namespace {

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer's runtime keeps threads of its own: never single-threaded.
constexpr bool kZygoteBuild = false;
#else
constexpr bool kZygoteBuild = true;
#endif

// A zygote that failed to start this often in a row is not tried again.
constexpr int kMaxFailedStarts = 3;

// Spares kept ready or on their way: with two, spawns in a row (compute in a
// loop) find one forked while the spawn before last started, and never wait
// for a fork.
constexpr std::size_t kSparesKept = 2;

// How long a process that ends waits for its zygote and spares to end (they
// end at once, their socket closed) and for a spare it asked for.
constexpr std::chrono::milliseconds kStopOnExit{200};

std::atomic<bool>& enabled() {
  static std::atomic<bool> on{kZygoteBuild &&
                              environment_number("ISOLATED_ZYGOTE").value_or(1) != 0};
  return on;
}

// Waits up to `timeout` for one message of exactly sizeof(T) bytes. Nothing
// if none came, the peer is gone or it sent something else.
template <class T>
std::optional<T> receive_within(int socket, std::chrono::milliseconds timeout,
                                std::vector<UniqueFd>* descriptors = nullptr) {
  T value;
  auto received =
      receive_message_within(socket, std::as_writable_bytes(std::span(&value, 1)), timeout);
  if (!received || received->size != sizeof value) return std::nullopt;
  if (descriptors != nullptr) *descriptors = std::move(received->descriptors);
  return value;
}

// A helper child: the zygote or a spare, and our end of its socket.
struct Helper {
  UniqueFd socket;
  int pid = 0;
  explicit operator bool() const noexcept { return socket.valid(); }
};

class ZygoteClient {
 public:
  static ZygoteClient& get() {
    // Never destroyed: the supervisor's thread calls back into it.
    static ZygoteClient* client = new ZygoteClient();
    return *client;
  }

  std::optional<int> start(const BootRecordHandoff& boot_record, const LaunchOptions& options,
                           const ChildWatch& watch, std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    // A spare killed while it waited is dropped (the supervisor reaps it)
    // and the next one tried.
    for (int attempt = 0; attempt < 3; ++attempt) {
      Helper spare = take_spare_locked(timeout);
      if (!spare) return std::nullopt;
      if (peer_gone(spare.socket.get())) continue;
      if (!Supervisor::get().adopt_spare(spare.pid, watch)) continue;
      no_longer_a_helper(spare.pid);
      hand_over(spare, boot_record, options);
      return spare.pid;
    }
    return std::nullopt;
  }

  void replenish(std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    // Only for a process that spawns from its zygote (not one that starts
    // worker binaries only).
    while (zygote_ && spares_.size() + static_cast<std::size_t>(requested_) < kSparesKept) {
      if (!request_spare_locked(timeout)) return;
    }
  }

  bool stop(std::chrono::milliseconds timeout) {
    {
      std::lock_guard lock(mutex_);
      // Spares asked for are watched first; then all end when their socket
      // closes.
      collect_replies_locked(timeout);
      spares_.clear();
      zygote_ = Helper{};
      requested_ = 0;
    }
    std::unique_lock lock(helpers_mutex_);
    return helpers_changed_.wait_for(lock, timeout, [&] { return helpers_.empty(); });
  }

  std::vector<int> helper_pids(std::chrono::milliseconds timeout) {
    {
      std::lock_guard lock(mutex_);
      collect_replies_locked(timeout);
    }
    std::lock_guard lock(helpers_mutex_);
    return {helpers_.begin(), helpers_.end()};
  }

 private:
  ZygoteClient() = default;

  // A spare ready, or else one asked for and waited for; nothing if no
  // zygote can serve us, now or (unusable_) ever.
  Helper take_spare_locked(std::chrono::milliseconds timeout) {
    collect_replies_locked(std::chrono::milliseconds(0));  // what came meanwhile
    if (spares_.empty() && requested_ == 0 && !request_spare_locked(timeout)) return {};
    if (spares_.empty()) collect_replies_locked(timeout);
    if (spares_.empty()) return {};
    Helper spare = std::move(spares_.front());
    spares_.pop_front();
    return spare;
  }

  // Asks the zygote for a spare, starting the zygote first if need be;
  // returns at once (the zygote forks meanwhile). False if no zygote serves.
  bool request_spare_locked(std::chrono::milliseconds timeout) {
    if (!enabled().load() || unusable_) return false;
    try {
      for (int attempt = 0; attempt < 2; ++attempt) {
        if (!zygote_) zygote_ = start_zygote_locked(timeout);
        if (!zygote_) return false;
        if (send_message(zygote_.socket.get(), bytes_of(SpareRequest{}), {})) {
          ++requested_;
          return true;
        }
        drop_zygote_locked();  // it died since; another one is started
      }
    } catch (const std::exception&) {
      // The exec path reports what is wrong, if anything still is.
    }
    return false;
  }

  // Takes the zygote's answers to the spares asked for: waits up to
  // `timeout` for the first (0: takes only what is there), none after it.
  void collect_replies_locked(std::chrono::milliseconds timeout) {
    while (requested_ > 0 && zygote_) {
      std::vector<UniqueFd> descriptors;
      std::optional<SpareReply> reply;
      try {
        reply = receive_within<SpareReply>(zygote_.socket.get(), timeout, &descriptors);
      } catch (const std::exception&) {
      }
      if (!reply) {
        // Nothing yet, which is fine if we did not wait; a zygote that is
        // gone (or said nonsense, or took the whole timeout) is replaced.
        if (timeout.count() > 0 || peer_gone(zygote_.socket.get())) drop_zygote_locked();
        return;
      }
      --requested_;
      timeout = std::chrono::milliseconds(0);
      if (reply->pid <= 0 || descriptors.size() != 1) continue;  // its fork failed
      try {
        watch_helper(reply->pid);
        spares_.push_back(Helper{std::move(descriptors[0]), reply->pid});
      } catch (const std::exception&) {  // reaped already by watch_helper
      }
    }
  }

  void drop_zygote_locked() {
    // A zygote that does not answer is not waited for; one that has died is
    // reaped by the supervisor either way.
    if (zygote_.pid > 0) ::kill(zygote_.pid, SIGKILL);
    zygote_ = Helper{};
    requested_ = 0;
  }

  Helper start_zygote_locked(std::chrono::milliseconds timeout) {
    int pair[2];
    checked("socketpair",
            [&] { return ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair); });
    Helper zygote{UniqueFd(pair[0]), 0};
    const UniqueFd zygote_end(pair[1]);
    LaunchOptions options;
    options.kept_as_fd3 = zygote_end.get();
    zygote.pid = launch_process(kThisProgram,
                                {std::string(kZygoteFlag), std::to_string(::getpid())}, options);
    watch_helper(zygote.pid);
    const auto hello = receive_within<ZygoteHello>(zygote.socket.get(), timeout);
    if (hello && hello->unusable == 0) {
      failed_starts_ = 0;
      end_with_the_runtime();
      return zygote;
    }
    if (hello) {
      unusable_ = true;  // it said why; the same program says the same again
    } else {
      ::kill(zygote.pid, SIGKILL);  // the supervisor reaps it
      if (++failed_starts_ >= kMaxFailedStarts) unusable_ = true;
    }
    return {};
  }

  // A process that ends cleanly, through the runtime (_exit) or through
  // exit(), ends its zygote and spares first and reaps them, so that they are
  // no orphans for whoever adopts those. Bounded: the supervisor that reaps
  // them may be waiting for the very thread that ends the process (then they
  // are orphans after all).
  static void end_with_the_runtime() {
    if (Runtime* runtime = Runtime::current()) {
      runtime->set_before_exit([] { get().end_at_exit(); });
    }
    static std::once_flag at_exit;
    std::call_once(at_exit, [] { std::atexit([] { get().end_at_exit(); }); });
  }

  // Closes every helper's socket and reaps the helpers here, not through the
  // supervisor, which may be waiting for the very thread that ends the
  // process (whichever reaps one first, the other finds it gone).
  void end_at_exit() {
    std::vector<int> helpers;
    {
      std::lock_guard lock(mutex_);
      collect_replies_locked(kStopOnExit);  // a spare asked for, to reap too
      spares_.clear();
      zygote_ = Helper{};
      requested_ = 0;
    }
    {
      std::lock_guard lock(helpers_mutex_);
      helpers.assign(helpers_.begin(), helpers_.end());
    }
    // They end at once when their socket closes; one that does not is
    // killed.
    const auto deadline = std::chrono::steady_clock::now() + kStopOnExit;
    for (const int pid : helpers) {
      bool reaped = false;
      while (!reaped && std::chrono::steady_clock::now() < deadline) {
        const pid_t got = ::waitpid(pid, nullptr, WNOHANG);
        reaped = got == pid || (got < 0 && errno == ECHILD);
        if (!reaped) ::usleep(200);
      }
      // Still our unreaped child, so the pid is still its own.
      if (!reaped && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  }

  // Sends the spare its boot record; our end closes when `spare` goes: it is
  // a worker now. If it died just now, the send fails and so does the spawn,
  // through the supervisor, which reports its end.
  static void hand_over(const Helper& spare, const BootRecordHandoff& boot_record,
                        const LaunchOptions& options) {
    try {
      hand_boot_record(spare.socket.get(), boot_record, options);
    } catch (const std::exception&) {
      ::kill(spare.pid, SIGKILL);  // it must not wait forever; its end fails the spawn
    }
    // The spare makes its group too, but only once it runs: made here, it
    // is there before the spawn returns, for a kill(-pid) right after.
    if (options.own_process_group) ::setpgid(spare.pid, spare.pid);
  }

  // The supervisor reaps it when it ends; until then it is a helper.
  void watch_helper(int pid) {
    {
      std::lock_guard lock(helpers_mutex_);
      helpers_.insert(pid);
    }
    try {
      Supervisor::get().watch_helper(pid, [this, pid] { no_longer_a_helper(pid); });
    } catch (...) {
      // Unwatched, it would stay a zombie: end and reap it here.
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      no_longer_a_helper(pid);
      throw;
    }
  }

  void no_longer_a_helper(int pid) {
    {
      std::lock_guard lock(helpers_mutex_);
      helpers_.erase(pid);
    }
    helpers_changed_.notify_all();
  }

  std::mutex mutex_;  // one spawn at a time talks to the zygote
  Helper zygote_;
  std::deque<Helper> spares_;  // ready, watched as helpers
  int requested_ = 0;          // spares asked for, not yet answered
  bool unusable_ = false;
  int failed_starts_ = 0;

  // Separate, as the supervisor's thread takes it: helpers not yet reaped.
  std::mutex helpers_mutex_;
  std::condition_variable helpers_changed_;
  std::set<int> helpers_;
};

}  // namespace

std::optional<int> start_from_zygote(const BootRecordHandoff& boot_record,
                                     const LaunchOptions& options, const ChildWatch& watch,
                                     std::chrono::milliseconds timeout) {
  return ZygoteClient::get().start(boot_record, options, watch, timeout);
}

bool stop_zygote(std::chrono::milliseconds timeout) { return ZygoteClient::get().stop(timeout); }

std::vector<int> zygote_helper_pids(std::chrono::milliseconds timeout) {
  return ZygoteClient::get().helper_pids(timeout);
}

void replenish_zygote_spare(std::chrono::milliseconds timeout) {
  ZygoteClient::get().replenish(timeout);
}

void set_zygote_enabled(bool on) { enabled().store(on && kZygoteBuild); }

}  // namespace isolated::detail
