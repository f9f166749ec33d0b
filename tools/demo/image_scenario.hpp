// The article's second scenario: an image loader that downsizes a directory
// of images through a pool of isolates, fed by map (the article's asyncMap
// over a stream of paths), against one isolate and the main thread alone.
#pragma once

#include <cstddef>

namespace demo {

// Writes `image_count` images into a scratch directory under /tmp (removed
// afterwards, also on failure), downscales them three ways, prints each way's
// throughput and checks that all three wrote the same images. Returns the
// exit status: EXIT_FAILURE if they differ. Throws std::invalid_argument for
// no images, and what writing the images or a task threw (RemoteError,
// IsolateExited, ...).
int run_image_scenario(std::size_t image_count);

}  // namespace demo
