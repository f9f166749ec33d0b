#include "images.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string_view>

namespace demo {
namespace {

// The pixels of a PPM file, still inside the file's bytes: no copy.
struct PpmPixels {
  std::size_t width = 0;
  std::size_t height = 0;
  std::string_view rgb;  // row by row, kImageChannels bytes a pixel
};

std::string ppm_header(std::size_t width, std::size_t height) {
  return "P6\n" + std::to_string(width) + " " + std::to_string(height) + "\n255\n";
}

// A PPM file of the given size whose pixels are zero, for the caller to fill:
// header and pixels in one string, written out in one go.
std::string blank_ppm(std::size_t width, std::size_t height, std::size_t& pixels_at) {
  std::string file = ppm_header(width, height);
  pixels_at = file.size();
  file.resize(pixels_at + width * height * kImageChannels);
  return file;
}

// Parses "P6 <width> <height> 255" and the one whitespace byte after it.
// Only what ppm_header writes needs to be read: no comments, 8 bits only.
PpmPixels parse_ppm(std::string_view file, const std::string& path) {
  const auto fail = [&](const std::string& why) { throw std::runtime_error(path + ": " + why); };
  if (file.substr(0, 2) != "P6") fail("not a binary PPM (P6)");
  std::size_t at = 2;
  const auto number = [&] {
    while (at < file.size() && std::isspace(static_cast<unsigned char>(file[at]))) ++at;
    const std::size_t first_digit = at;
    std::size_t value = 0;
    while (at < file.size() && std::isdigit(static_cast<unsigned char>(file[at]))) {
      value = value * 10 + static_cast<std::size_t>(file[at] - '0');
      ++at;
    }
    if (at == first_digit) fail("malformed PPM header");
    return value;
  };
  PpmPixels image;
  image.width = number();
  image.height = number();
  if (number() != 255) fail("not 8 bits per channel");
  ++at;  // the single whitespace byte before the pixels
  const std::size_t size = image.width * image.height * kImageChannels;
  if (at > file.size() || file.size() - at < size) fail("truncated PPM");
  image.rgb = file.substr(at, size);
  return image;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  // Sized up front: one read, not a growing buffer (images are megabytes).
  std::string bytes(std::filesystem::file_size(path), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!in) throw std::runtime_error("cannot read " + path);
  return bytes;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();  // flushes: a full disk shows here, not silently in the destructor
  if (!out) throw std::runtime_error("cannot write " + path);
}

// FNV-1a, 64 bits: enough to tell whether two runs wrote the same bytes.
std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

// A pattern that differs from image to image, so that results swapped
// between images would show in the checksums: colour gradients shifted by
// the index, and a checkerboard whose squares grow with it. Most squares do
// not align with the 4x4 blocks, so the box filter has real averaging to do.
std::string test_image(std::size_t index) {
  std::size_t pixels_at = 0;
  std::string file = blank_ppm(kImageWidth, kImageHeight, pixels_at);
  const std::size_t square = 13 + 3 * (index % 16);
  for (std::size_t y = 0; y < kImageHeight; ++y) {
    for (std::size_t x = 0; x < kImageWidth; ++x) {
      char* pixel = &file[pixels_at + (y * kImageWidth + x) * kImageChannels];
      const bool dark = (x / square + y / square) % 2 == 0;
      pixel[0] = static_cast<char>((x + 5 * index) % 256);
      pixel[1] = static_cast<char>((y + 11 * index) % 256);
      pixel[2] = static_cast<char>(dark ? (x ^ y) % 64 : 255 - (x * y / 64) % 64);
    }
  }
  return file;
}

// Image bytes, PPM's like most, are gamma-encoded (sRGB): equal steps look
// even to the eye but are not equal amounts of light. Averaging must add up
// light, or a block half black and half white comes out as byte 128 instead
// of the 188 it looks like from afar; so bytes go to linear light through
// this table, and averages come back through srgb_of_linear.
const std::array<float, 256>& linear_of_srgb() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> linear{};
    for (std::size_t byte = 0; byte < linear.size(); ++byte) {
      const double c = static_cast<double>(byte) / 255;
      linear[byte] =
          static_cast<float>(c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4));
    }
    return linear;
  }();
  return table;
}

char srgb_of_linear(double linear) {
  const double c = linear <= 0.0031308 ? linear * 12.92 : 1.055 * std::pow(linear, 1 / 2.4) - 0.055;
  return static_cast<char>(std::lround(std::clamp(c, 0.0, 1.0) * 255));
}

// Averages each factor x factor block of each channel, in linear light.
std::string box_downscale(const PpmPixels& image) {
  constexpr std::size_t kFactor = kDownscaleFactor;
  constexpr double kBlockPixels = kFactor * kFactor;
  const std::array<float, 256>& linear = linear_of_srgb();
  const std::size_t width = image.width / kFactor;
  const std::size_t height = image.height / kFactor;
  std::size_t pixels_at = 0;
  std::string file = blank_ppm(width, height, pixels_at);
  for (std::size_t y = 0; y < height; ++y) {
    for (std::size_t x = 0; x < width; ++x) {
      for (std::size_t channel = 0; channel < kImageChannels; ++channel) {
        double sum = 0;
        for (std::size_t dy = 0; dy < kFactor; ++dy) {
          const std::size_t row = (y * kFactor + dy) * image.width;
          for (std::size_t dx = 0; dx < kFactor; ++dx) {
            const std::size_t source = (row + x * kFactor + dx) * kImageChannels + channel;
            sum += linear[static_cast<unsigned char>(image.rgb[source])];
          }
        }
        file[pixels_at + (y * width + x) * kImageChannels + channel] =
            srgb_of_linear(sum / kBlockPixels);
      }
    }
  }
  return file;
}

}  // namespace

std::vector<std::string> write_test_images(const std::string& directory, std::size_t count) {
  std::vector<std::string> paths;
  paths.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "image-%03zu.ppm", i);
    paths.push_back((std::filesystem::path(directory) / name).string());
    write_file(paths.back(), test_image(i));
  }
  return paths;
}

Downscaled downscale_image(const std::string& path) {
  const std::string original = read_file(path);
  const std::string small = box_downscale(parse_ppm(original, path));
  Downscaled result;
  result.path = std::filesystem::path(path).replace_extension(".small.ppm").string();
  write_file(result.path, small);
  result.checksum = fnv1a(small);
  result.bytes = small.size();
  return result;
}

}  // namespace demo
