// The second scenario's workload, from the article: an image loader that
// downsizes pictures for their views. Images are binary PPM files (P6), the
// simplest format that needs no library.
#pragma once

#include <isolated/message.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace demo {

inline constexpr std::size_t kImageWidth = 1024;
inline constexpr std::size_t kImageHeight = 768;
inline constexpr std::size_t kImageChannels = 3;    // RGB, one byte each
inline constexpr std::size_t kDownscaleFactor = 4;  // each side; 16 pixels become one

// What a downscaling task sends back: small on purpose, the pixels stay in the
// file (the article's "collect the updated file path in the receiver").
struct Downscaled {
  std::string path;            // the downscaled image
  std::uint64_t checksum = 0;  // FNV-1a of the file's bytes
  std::uint64_t bytes = 0;     // the file's size
  MSGPACK_DEFINE(path, checksum, bytes)

  bool operator==(const Downscaled&) const = default;
};

// Writes `count` images of kImageWidth x kImageHeight into `directory`, each
// with its own deterministic pattern, and returns their paths in order.
std::vector<std::string> write_test_images(const std::string& directory, std::size_t count);

// Reads the PPM at `path`, averages each kDownscaleFactor x kDownscaleFactor
// block in linear light (a box filter) and writes the result next to it, as
// "<name>.small.ppm".
// Throws std::runtime_error if the file cannot be read or is not such a PPM.
Downscaled downscale_image(const std::string& path);

}  // namespace demo
