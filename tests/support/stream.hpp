// Self-checking frame streams: frame `seq` of producer `producer` has a size
// and bytes derived from (producer, seq), so the receiver can tell a lost,
// duplicated, reordered, torn or corrupted frame from a good one without
// being told what was sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace isolated::test {

inline std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Sizes in [0, max_size], mostly small, now and then large.
inline std::size_t stream_frame_size(std::uint64_t producer, std::uint64_t seq,
                                     std::size_t max_size) {
  const std::uint64_t h = mix(producer * 1000003 + seq);
  const std::size_t bound = (h & 0xf) == 0 ? max_size : std::min<std::size_t>(max_size, 256);
  return static_cast<std::size_t>((h >> 8) % (bound + 1));
}

inline void fill_stream_payload(std::uint64_t producer, std::uint64_t seq, std::span<std::byte> out) {
  std::uint64_t state = mix(producer ^ (seq << 20));
  std::size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    state = mix(state);
    std::memcpy(out.data() + i, &state, 8);
  }
  state = mix(state);
  for (; i < out.size(); ++i) out[i] = static_cast<std::byte>((state >> (8 * (i % 8))) & 0xff);
}

inline std::vector<std::byte> stream_payload(std::uint64_t producer, std::uint64_t seq,
                                             std::size_t max_size) {
  std::vector<std::byte> bytes(stream_frame_size(producer, seq, max_size));
  fill_stream_payload(producer, seq, bytes);
  return bytes;
}

// Checks frames of several producers as they arrive: each producer's frames
// must come in sequence, once each, byte for byte.
class StreamChecker {
 public:
  StreamChecker(std::size_t producers, std::size_t max_size)
      : next_(producers, 0), max_size_(max_size) {}

  // Returns false (and remembers why) on the first bad frame.
  bool check(std::uint64_t producer, std::uint64_t seq, std::span<const std::byte> payload) {
    if (producer >= next_.size()) return fail("frame from unknown producer " + std::to_string(producer));
    if (seq != next_[producer]) {
      return fail("producer " + std::to_string(producer) + ": got frame " + std::to_string(seq) +
                  ", expected " + std::to_string(next_[producer]));
    }
    scratch_.resize(stream_frame_size(producer, seq, max_size_));
    fill_stream_payload(producer, seq, scratch_);
    if (payload.size() != scratch_.size() ||
        (!payload.empty() && std::memcmp(payload.data(), scratch_.data(), payload.size()) != 0)) {
      return fail("producer " + std::to_string(producer) + ": frame " + std::to_string(seq) +
                  " has wrong bytes (" + std::to_string(payload.size()) + " bytes, expected " +
                  std::to_string(scratch_.size()) + ")");
    }
    ++next_[producer];
    return true;
  }

  std::uint64_t received(std::uint64_t producer) const { return next_.at(producer); }
  const std::string& error() const { return error_; }

 private:
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  std::vector<std::uint64_t> next_;
  std::size_t max_size_;
  std::vector<std::byte> scratch_;
  std::string error_;
};

}  // namespace isolated::test
