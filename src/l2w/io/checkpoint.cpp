#include "l2w/io/checkpoint.h"

#include <algorithm>
#include <filesystem>

#include "l2w/runtime/atomic_file.h"
#include "l2w/io/torch_save_reader.h"
#include "l2w/io/torch_save_writer.h"

namespace l2w::io {
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

// The mid-epoch state saved with `iteration`; CheckpointError when it is not what save_checkpoint writes.
template <class Get>
EpochProgress epoch_progress(const Get& get, const std::string& path) {
  EpochProgress p;
  p.iteration = get("iteration").toInt();
  const c10::IValue state = get("epoch_state");
  const auto bad = [&] { return CheckpointError(path + ": written inside an epoch, but its epoch_state is damaged"); };
  if (!state.isGenericDict()) throw bad();
  const auto d = state.toGenericDict();
  if (!d.contains("meter") || !d.at("meter").isTensor() || !d.contains("per_sample") || !d.at("per_sample").isList())
    throw bad();
  p.meters = d.at("meter").toTensor();
  for (const auto& t : d.at("per_sample").toListRef()) {
    if (!t.isTensor()) throw bad();
    p.per_sample.push_back(t.toTensor());
  }
  return p;
}

}  // namespace

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
  if (c.within_epoch) {
    c10::impl::GenericDict state(c10::StringType::get(), c10::AnyType::get());
    state.insert("meter", c.within_epoch->meters);
    c10::List<torch::Tensor> tables;
    for (const auto& t : c.within_epoch->per_sample) tables.push_back(t);
    state.insert("per_sample", tables);
    d.insert("iteration", c.within_epoch->iteration);
    d.insert("epoch_state", state);
  }
  runtime::write_file_atomically(path, torch_save_bytes(d));
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
  if (get("best_acc1").isDouble()) c.best_prec1 = get("best_acc1").toDouble();  // IMTA's name for it
  c.optimizer = get("optimizer");
  if (d.contains("meta_state_dict")) c.meta_state_dict = from_dict(get("meta_state_dict"), path);
  c.meta_optimizer = get("meta_optimizer");
  if (get("iteration").isInt() && get("iteration").toInt() > 0) c.within_epoch = epoch_progress(get, path);
  return c;
}

}  // namespace l2w::io
