#include "segment_reader.hpp"

#include "names.hpp"
#include "common/src/os/syscall.hpp"

#include <isolated/error.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace isolated::detail {

SegmentReader::SegmentReader(SegmentReader&& other) noexcept
    : descriptor_(std::exchange(other.descriptor_, -1)), size_(std::exchange(other.size_, 0)) {}

SegmentReader& SegmentReader::operator=(SegmentReader&& other) noexcept {
  if (this != &other) {
    if (descriptor_ >= 0) ::close(descriptor_);
    descriptor_ = std::exchange(other.descriptor_, -1);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SegmentReader::~SegmentReader() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

SegmentReader SegmentReader::open(std::string_view name) {
  if (!parse_segment_name(name)) {
    throw Error("refusing to read '" + std::string(name) +
                "': not a name of the form /isolated.<root pid>.<random>.<kind>");
  }
  const std::string full_name = shm_object_name(name);
  // glibc's shm_open adds O_NOFOLLOW and O_CLOEXEC. O_NONBLOCK: should the
  // name be a FIFO by now, opening it must not wait for a writer.
  const int descriptor =
      retry_on_eintr([&] { return ::shm_open(full_name.c_str(), O_RDONLY | O_NONBLOCK, 0); });
  if (descriptor < 0) {
    throw Error("cannot open shared-memory segment " + full_name + ": " + std::strerror(errno));
  }
  return checked(descriptor, full_name);
}

SegmentReader SegmentReader::open_path(const std::string& path) {
  const int descriptor = retry_on_eintr(
      [&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); });
  if (descriptor < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
  return checked(descriptor, path);
}

SegmentReader SegmentReader::checked(int descriptor, const std::string& what) {
  SegmentReader reader(descriptor, 0);  // closes the descriptor if a check throws
  struct stat st {};
  if (::fstat(descriptor, &st) != 0) {
    throw Error("cannot stat " + what + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw Error(what + " is not a shared-memory segment (not a file)");
  if (st.st_uid != ::geteuid()) throw Error(what + " belongs to another user");
  reader.size_ = static_cast<std::size_t>(st.st_size);
  return reader;
}

std::size_t SegmentReader::read_at(std::uint64_t offset, std::span<std::byte> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t got = retry_on_eintr([&] {
      return ::pread(descriptor_, out.data() + done, out.size() - done,
                     static_cast<off_t>(offset + done));
    });
    if (got < 0) throw_system_error("pread of a shared-memory segment", errno);
    if (got == 0) break;  // the end: the owner may have shrunk it
    done += static_cast<std::size_t>(got);
  }
  return done;
}

void SegmentReader::read_exactly(std::uint64_t offset, std::span<std::byte> out) const {
  if (read_at(offset, out) != out.size()) {
    throw Error("segment ends before byte " + std::to_string(offset + out.size()) +
                " that it must hold");
  }
}

}  // namespace isolated::detail
