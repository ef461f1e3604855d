// A request's image made into what the network reads, as evaluation prepares its test images
// (docs/serving.md): a PNG or JPEG decoded; an ImageNet-style network's image resized (shorter side to
// 256/224 of the crop) and centre-cropped; a small-image network's image taken as it is, which must then
// have the network's size and channel count; then normalised with the data set's mean and deviation.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

#include <torch/torch.h>

#include "l2w/dataset/image_dataset.h"

namespace l2w::serve {

// An image the network cannot take; the message says why (the server answers 400 with it).
struct InputError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
// An image whose header declares more pixels than the server decodes (the server answers 413).
struct InputTooLarge : InputError {
  using InputError::InputError;
};

struct InputFormat {
  int64_t channels = 1, height = 28, width = 28;
  bool resize_and_crop = false;  // ImageNet's evaluation transform; otherwise the size must match
  std::vector<float> mean, std;  // per channel, on the 0..1 scale
};

// The format of the images `data` holds, as its test batches are made.
InputFormat input_format(const dataset::ImageDataset& data);

// float32 [C, H, W]: the decoded, prepared and normalised image. InputError when the bytes are not a
// PNG or JPEG image, are cut short, or hold an image of another size or channel count; InputTooLarge
// when the header declares more than `max_pixels` pixels. Both are found from the header, before any
// pixel is decoded, so that a small file declaring a huge image costs no memory.
torch::Tensor image_to_input(const std::vector<uint8_t>& bytes, const InputFormat& format, int64_t max_pixels);

}  // namespace l2w::serve
