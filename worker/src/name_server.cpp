// The name registry: one directory per user in /dev/shm (tmpfs: it is gone at
// reboot, as every port is), one file per name holding the owner's identity
// and the port. Changes happen under flock on the directory, so two processes
// can never both take a name, even when they both find its owner dead.
#include <isolated/name_server.hpp>

#include "common/src/os/process_identity.hpp"
#include "common/src/os/syscall.hpp"
#include "common/src/os/unique_fd.hpp"

#include <isolated/detail/encode.hpp>
#include <isolated/error.hpp>
#include <isolated/message.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace isolated::name_server {
namespace {

using detail::checked;
using detail::ProcessIdentity;
using detail::retry_on_eintr;
using detail::throw_system_error;
using detail::UniqueFd;

constexpr std::size_t kMaxNameBytes = 200;
constexpr std::size_t kMaxEntryBytes = 1024;  // an inbox name is at most 255 bytes
constexpr std::chrono::seconds kLockTimeout{5};

// [owner pid, owner start time, inbox name, port id]
using Entry = std::tuple<int, std::uint64_t, std::string, std::uint64_t>;

void check_name(std::string_view name) {
  const bool well_formed =
      !name.empty() && name.size() <= kMaxNameBytes && name.front() != '.' &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
          std::string_view::npos;
  if (!well_formed) {
    throw UsageError("name_server: \"" + std::string(name) +
                                "\" is not a valid name (1 to 200 characters of A-Z a-z 0-9 . _ -, "
                                "not starting with '.')");
  }
}

// The registry directory, opened and locked for as long as this lives.
class LockedRegistry {
 public:
  LockedRegistry() : path_("/dev/shm/isolated-names." + std::to_string(::geteuid())) {
    if (retry_on_eintr([&] { return ::mkdir(path_.c_str(), 0700); }) != 0 && errno != EEXIST) {
      throw_system_error("name_server: cannot create " + path_, errno);
    }
    directory_ = UniqueFd(checked("name_server: cannot open " + path_, [&] {
      return ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }));
    struct stat info {};
    if (::fstat(directory_.get(), &info) != 0 || info.st_uid != ::geteuid() ||
        (info.st_mode & 077) != 0) {
      throw NameServerError("name_server: " + path_ +
                            " is not a private directory of this user; remove it, or make it "
                            "yours with mode 0700");
    }
    // Held for microseconds; a holder that is stopped (SIGSTOP) or stuck
    // must not hang every name server call of this user.
    const auto deadline = std::chrono::steady_clock::now() + kLockTimeout;
    while (retry_on_eintr([&] { return ::flock(directory_.get(), LOCK_EX | LOCK_NB); }) != 0) {
      if (errno != EWOULDBLOCK) throw_system_error("name_server: cannot lock " + path_, errno);
      if (std::chrono::steady_clock::now() >= deadline) {
        throw TimeoutError("name_server: " + path_ + " stayed locked for " +
                           std::to_string(kLockTimeout.count()) +
                           " s; a process holding it may be stopped");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  // Closing the directory releases the lock.

  // The entry under `name`; nothing if there is none or it is unreadable.
  std::optional<Entry> read(std::string_view name) const {
    const UniqueFd file(retry_on_eintr([&] {
      return ::openat(directory_.get(), std::string(name).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }));
    if (!file) return std::nullopt;
    std::vector<std::byte> bytes(kMaxEntryBytes);
    struct stat info {};
    ssize_t length = -1;
    if (::fstat(file.get(), &info) == 0 && S_ISREG(info.st_mode) && info.st_uid == ::geteuid()) {
      length = retry_on_eintr([&] { return ::read(file.get(), bytes.data(), bytes.size()); });
    }
    if (length <= 0) return std::nullopt;
    bytes.resize(static_cast<std::size_t>(length));
    try {
      return Message::decode(bytes).as<Entry>();
    } catch (const Error&) {
      return std::nullopt;  // not one of ours, or torn: as good as free
    }
  }

  bool exists(std::string_view name) const {
    struct stat info {};
    return ::fstatat(directory_.get(), std::string(name).c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0;
  }

  // Writes the entry under a temporary name, then gives it its name: a
  // reader sees a whole entry or none.
  void write(std::string_view name, const Entry& entry) {
    std::vector<std::byte> bytes;
    detail::encode(entry, bytes);
    const std::string temporary = ".new." + std::to_string(::getpid());
    ::unlinkat(directory_.get(), temporary.c_str(), 0);
    {
      const UniqueFd file(checked("name_server: cannot write in " + path_, [&] {
        return ::openat(directory_.get(), temporary.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      }));
      const ssize_t written =
          retry_on_eintr([&] { return ::write(file.get(), bytes.data(), bytes.size()); });
      if (written != static_cast<ssize_t>(bytes.size())) {
        const int error = written < 0 ? errno : ENOSPC;
        ::unlinkat(directory_.get(), temporary.c_str(), 0);
        throw_system_error("name_server: cannot write an entry in " + path_, error);
      }
    }
    if (::renameat(directory_.get(), temporary.c_str(), directory_.get(),
                   std::string(name).c_str()) != 0) {
      const int error = errno;
      ::unlinkat(directory_.get(), temporary.c_str(), 0);
      throw_system_error("name_server: cannot register a name in " + path_, error);
    }
  }

  bool erase(std::string_view name) {
    return ::unlinkat(directory_.get(), std::string(name).c_str(), 0) == 0;
  }

 private:
  std::string path_;
  UniqueFd directory_;
};

bool owner_alive(const Entry& entry) {
  return detail::process_alive(ProcessIdentity{std::get<0>(entry), std::get<1>(entry)});
}

}  // namespace

bool register_port(const SendPort& port, std::string_view name) {
  check_name(name);
  if (!port.valid()) throw UsageError("name_server: cannot register an invalid port");
  const auto self = detail::identify_process(::getpid());
  if (!self) throw NameServerError("name_server: cannot read this process's start time from /proc");
  LockedRegistry registry;
  if (const auto existing = registry.read(name); existing && owner_alive(*existing)) return false;
  registry.write(name, Entry{self->pid, self->start_time, port.inbox_name(), port.port_id()});
  return true;
}

std::optional<SendPort> lookup(std::string_view name) {
  check_name(name);
  LockedRegistry registry;
  const auto entry = registry.read(name);
  if (!entry || !owner_alive(*entry)) {
    if (registry.exists(name)) registry.erase(name);  // a dead owner's: tidy up
    return std::nullopt;
  }
  return SendPort(std::get<2>(*entry), std::get<3>(*entry));
}

bool remove(std::string_view name) {
  check_name(name);
  LockedRegistry registry;
  // A dead owner's name counts as absent, as lookup sees it.
  const auto entry = registry.read(name);
  const bool registered = entry && owner_alive(*entry);
  if (registry.exists(name)) registry.erase(name);
  return registered;
}

}  // namespace isolated::name_server
