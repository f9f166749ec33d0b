#include "out_of_line.hpp"

#include "common/src/os/syscall.hpp"
#include "common/src/shm/names.hpp"
#include "common/src/shm/segment.hpp"

#include <isolated/error.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace isolated::detail {

OutOfLineSegment::OutOfLineSegment(std::size_t capacity)
    : name_(make_segment_name(SegmentKind::out_of_line)), capacity_(capacity) {
  const std::string path = shm_object_name(name_);
  fd_ = UniqueFd(checked("shm_open of an out-of-line segment", [&] {
    return ::shm_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  }));
  if (::ftruncate(fd_.get(), static_cast<off_t>(capacity)) != 0) {
    const int error = errno;
    ::shm_unlink(path.c_str());
    throw_system_error("ftruncate of out-of-line segment " + name_, error);
  }
}

OutOfLineSegment::~OutOfLineSegment() { unlink(); }

void OutOfLineSegment::unlink() noexcept {
  if (owns_name_ && !name_.empty() && fd_) unlink_segment(name_);
  owns_name_ = false;
}

void OutOfLineSegment::write(std::span<const std::byte> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t wrote = retry_on_eintr([&] {
      return ::pwrite(fd_.get(), bytes.data() + done, bytes.size() - done,
                      static_cast<off_t>(done));
    });
    if (wrote < 0) throw_system_error("pwrite of out-of-line segment " + name_, errno);
    done += static_cast<std::size_t>(wrote);
  }
}

void read_out_of_line(std::string_view name, std::span<std::byte> out) {
  const auto parsed = parse_segment_name(name);
  if (!parsed || parsed->kind != SegmentKind::out_of_line) {
    throw TransportError("'" + std::string(name) + "' does not name an out-of-line segment");
  }
  const std::string path = shm_object_name(name);
  // O_NONBLOCK: should the name be a FIFO by now, opening must not wait.
  const UniqueFd fd(retry_on_eintr([&] { return ::shm_open(path.c_str(), O_RDONLY | O_NONBLOCK, 0); }));
  if (!fd) {
    throw TransportError("cannot open out-of-line segment " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
    throw TransportError("out-of-line segment " + path + " is not a file of this user");
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t got = retry_on_eintr([&] {
      return ::pread(fd.get(), out.data() + done, out.size() - done, static_cast<off_t>(done));
    });
    if (got < 0) throw TransportError("pread of out-of-line segment " + path + ": " + std::strerror(errno));
    if (got == 0) {
      throw TransportError("out-of-line segment " + path + " holds " + std::to_string(done) +
                           " bytes, not the " + std::to_string(out.size()) + " its frame says");
    }
    done += static_cast<std::size_t>(got);
  }
}

std::shared_ptr<std::byte[]> OutOfLineBuffers::get(std::size_t size) {
  // Reused when nobody holds it any more, it fits, and it is not more than
  // four times too large.
  if (kept_ != nullptr && kept_.use_count() == 1 && kept_size_ >= size && kept_size_ / 4 <= size) {
    return kept_;
  }
  kept_ = std::shared_ptr<std::byte[]>(new std::byte[size]);  // not zeroed: pread fills it
  kept_size_ = size;
  return kept_;
}

}  // namespace isolated::detail
