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

SegmentReader SegmentReader::open(std::string_view name) {
  if (!parse_segment_name(name)) {
    throw TransportError("refusing to read '" + std::string(name) +
                "': not a name of the form /isolated.<root pid>.<random>.<kind>");
  }
  const std::string full_name = shm_object_name(name);
  // glibc's shm_open adds O_NOFOLLOW and O_CLOEXEC. O_NONBLOCK: should the
  // name be a FIFO by now, opening it must not wait for a writer.
  UniqueFd descriptor(
      retry_on_eintr([&] { return ::shm_open(full_name.c_str(), O_RDONLY | O_NONBLOCK, 0); }));
  if (!descriptor) {
    throw TransportError("cannot open shared-memory segment " + full_name + ": " +
                         std::strerror(errno));
  }
  return checked(std::move(descriptor), full_name);
}

SegmentReader SegmentReader::open_path(const std::string& path) {
  UniqueFd descriptor(retry_on_eintr(
      [&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); }));
  if (!descriptor) throw TransportError("cannot open " + path + ": " + std::strerror(errno));
  return checked(std::move(descriptor), path);
}

SegmentReader SegmentReader::checked(UniqueFd descriptor, const std::string& what) {
  SegmentReader reader(std::move(descriptor));  // closes the descriptor if a check throws
  struct stat st {};
  if (::fstat(reader.descriptor_.get(), &st) != 0) {
    throw TransportError("cannot stat " + what + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw TransportError(what + " is not a shared-memory segment (not a file)");
  if (st.st_uid != ::geteuid()) throw TransportError(what + " belongs to another user");
  reader.size_ = static_cast<std::size_t>(st.st_size);
  return reader;
}

std::size_t SegmentReader::read_at(std::uint64_t offset, std::span<std::byte> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t got = retry_on_eintr([&] {
      return ::pread(descriptor_.get(), out.data() + done, out.size() - done,
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
    throw TransportError("segment ends before byte " + std::to_string(offset + out.size()) +
                " that it must hold");
  }
}

}  // namespace isolated::detail
