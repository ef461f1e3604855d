// l2w's ImageNet transforms as bytes, for test/python/imagenet_pixels_check.py to compare with Pillow and
// torchvision's rules. Reads a job list, one image per line:
//   eval SIZE RESIZE FILE                     decode, shorter side to RESIZE, centre SIZE x SIZE crop
//   crop SIZE TOP LEFT HEIGHT WIDTH FLIP FILE decode, cut the box, resample to SIZE x SIZE, mirror if FLIP
// and writes each result's CHW bytes (3·SIZE² of them), one after the other, to OUT.
// Usage: l2w_image_transform_dump JOBS OUT
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "l2w/dataset/image_decoding.h"
#include "l2w/dataset/image_transforms.h"

namespace {

namespace ds = l2w::dataset;

// The jobs of one file come together: each file is decoded once.
const ds::RgbImage& decoded(const std::string& file) {
  static std::string last_file;
  static ds::RgbImage last_image;
  if (file != last_file) {
    last_image = ds::decode_image(file);
    last_file = file;
  }
  return last_image;
}

std::vector<uint8_t> transform(const std::string& line) {
  std::istringstream in(line);
  std::string mode, file;
  int64_t size = 0;
  in >> mode >> size;
  std::vector<uint8_t> out(static_cast<size_t>(3 * size * size));
  if (mode == "eval") {
    int64_t resize = 0;
    in >> resize >> std::ws;
    std::getline(in, file);
    ds::resize_center_crop(decoded(file), resize, size, out.data());
  } else if (mode == "crop") {
    ds::CropBox box;
    int flip = 0;
    in >> box.top >> box.left >> box.height >> box.width >> flip >> std::ws;
    std::getline(in, file);
    ds::resized_crop(decoded(file), box, size, flip != 0, out.data());
  } else {
    throw std::runtime_error("unknown job '" + line + "'");
  }
  if (!in && !in.eof()) throw std::runtime_error("malformed job '" + line + "'");
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: l2w_image_transform_dump JOBS OUT\n";
    return 2;
  }
  try {
    std::ifstream jobs(argv[1]);
    if (!jobs) throw std::runtime_error(std::string(argv[1]) + ": cannot open file");
    std::ofstream out(argv[2], std::ios::binary);
    std::string line;
    while (std::getline(jobs, line)) {
      if (line.empty()) continue;
      const auto bytes = transform(line);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    if (!out) throw std::runtime_error(std::string(argv[2]) + ": write error");
  } catch (const std::exception& e) {
    std::cerr << "l2w_image_transform_dump: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
