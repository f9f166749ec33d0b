// What the peers of the benchmarks share (peers.cpp, blocking_peers.cpp):
// a shared mapping made before fork, the test messages and their checksums,
// and the checks on the forked child.
#pragma once

#include "child.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace isolated::bench {

using Clock = std::chrono::steady_clock;

inline double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// Throws std::system_error for errno, naming `what`.
[[noreturn]] void throw_errno(const char* what);

// An anonymous shared mapping, made before fork so the child inherits it.
class SharedMapping {
 public:
  explicit SharedMapping(std::size_t bytes);
  ~SharedMapping();
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  unsigned char* at(std::size_t offset) const { return static_cast<unsigned char*>(base_) + offset; }

 private:
  void* base_;
  std::size_t bytes_;
};

// Message `index`: the index in its first (up to) 8 bytes, a fixed filler
// after, so that a lost, repeated or stale message changes the checksum or
// fails the echo comparison.
void stamp(std::vector<unsigned char>& message, std::uint64_t index);
std::vector<unsigned char> make_message(std::size_t bytes);
std::uint64_t byte_sum(const unsigned char* bytes, std::size_t n);

// The child's exit status is part of the result: a child that failed after
// sending the last reply must not go unnoticed. Throws std::runtime_error.
void expect_clean_exit(ForkedChild& child, const char* what);

// True when the child has exited, without reaping it (the destructor or
// wait() does that).
bool has_exited(const ForkedChild& child);

}  // namespace isolated::bench
