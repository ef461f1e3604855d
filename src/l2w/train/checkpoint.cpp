#include "l2w/train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "l2w/train/torch_save_reader.h"

namespace l2w::train {
namespace {

c10::impl::GenericDict to_dict(const StateDict& state) {
  c10::impl::GenericDict d(c10::StringType::get(), c10::TensorType::get());
  // Saved on the CPU so that a checkpoint loads anywhere.
  for (const auto& item : state) d.insert(item.key(), item.value().detach().cpu());
  return d;
}

StateDict from_dict(const c10::IValue& value, const std::string& path) {
  if (!value.isGenericDict()) throw CheckpointError(path + ": state_dict is not a dictionary");
  StateDict out;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor())
      throw CheckpointError(path + ": state_dict entries must map names to tensors");
    out.insert(entry.key().toStringRef(), entry.value().toTensor());
  }
  return out;
}

// torch.save's file format for `value`, as torch::pickle_save writes it but without TorchScript's type
// tags (torch.jit._pickle.restore_type_tag): Python's torch.load refuses those unless weights_only=False,
// its default since PyTorch 2.6. Dictionaries, lists, strings, numbers and tensors remain, all of which
// torch.load accepts with weights_only=True.
std::string torch_save_bytes(const c10::IValue& value) {
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&](const char* bytes, size_t n) { pickle.insert(pickle.end(), bytes, bytes + n); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
                              /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* bytes, size_t n) {
    out.append(static_cast<const char*>(bytes), n);
    return n;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return out;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error(tmp + ": cannot create (" + std::strerror(errno) + ")");
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      ::close(fd);
      std::remove(tmp.c_str());
      throw std::runtime_error(tmp + ": write failed (" + std::strerror(errno) + ")");
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot replace (" + std::strerror(errno) + ")");
  }
}

void save_checkpoint(const Checkpoint& c, const std::string& path) {
  c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
  d.insert("epoch", c.epoch);
  d.insert("arch", c.arch);
  d.insert("config", c.config);
  d.insert("state_dict", to_dict(c.state_dict));
  d.insert("optimizer", c.optimizer);
  d.insert("best_prec1", c.best_prec1);
  if (!c.meta_state_dict.is_empty()) {
    d.insert("meta_state_dict", to_dict(c.meta_state_dict));
    d.insert("meta_optimizer", c.meta_optimizer);
  }
  write_file_atomically(path, torch_save_bytes(d));
}

Checkpoint load_checkpoint(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw CheckpointError(path + ": no such checkpoint file");
  const c10::IValue value = read_torch_save(path);
  if (!value.isGenericDict()) throw CheckpointError(path + ": holds a " + value.tagKind() + ", not a checkpoint dictionary");
  const auto d = value.toGenericDict();
  Checkpoint c;
  const bool bare = std::all_of(d.begin(), d.end(), [](const auto& e) { return e.key().isString() && e.value().isTensor(); });
  if (bare && d.size() > 0) {  // a bare state_dict, as torch.save(model.state_dict(), path) writes
    c.state_dict = from_dict(value, path);
    return c;
  }
  auto get = [&](const char* key) -> c10::IValue {
    auto it = d.find(key);
    return it == d.end() ? c10::IValue() : it->value();
  };
  if (!d.contains("state_dict")) throw CheckpointError(path + ": no state_dict in the checkpoint");
  c.state_dict = from_dict(get("state_dict"), path);
  if (get("epoch").isInt()) c.epoch = get("epoch").toInt();
  if (get("arch").isString()) c.arch = get("arch").toStringRef();
  if (get("config").isString()) c.config = get("config").toStringRef();
  // The reference stores best_prec1 as a float or, from a metric tensor, as a 0-d tensor.
  if (get("best_prec1").isDouble()) c.best_prec1 = get("best_prec1").toDouble();
  if (get("best_prec1").isTensor()) c.best_prec1 = get("best_prec1").toTensor().item<double>();
  c.optimizer = get("optimizer");
  if (d.contains("meta_state_dict")) c.meta_state_dict = from_dict(get("meta_state_dict"), path);
  c.meta_optimizer = get("meta_optimizer");
  return c;
}

}  // namespace l2w::train
