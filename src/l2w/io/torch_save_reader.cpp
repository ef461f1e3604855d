#include "l2w/io/torch_save_reader.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "l2w/io/state_dict.h"

namespace l2w::io {
namespace {

struct PickleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const std::unordered_map<std::string, c10::ScalarType>& storage_types() {
  static const std::unordered_map<std::string, c10::ScalarType> types{
      {"torch.FloatStorage", c10::kFloat}, {"torch.DoubleStorage", c10::kDouble},
      {"torch.HalfStorage", c10::kHalf},   {"torch.BFloat16Storage", c10::kBFloat16},
      {"torch.LongStorage", c10::kLong},   {"torch.IntStorage", c10::kInt},
      {"torch.ShortStorage", c10::kShort}, {"torch.CharStorage", c10::kChar},
      {"torch.ByteStorage", c10::kByte},   {"torch.BoolStorage", c10::kBool}};
  return types;
}

// The pickle virtual machine for torch.save's output (protocol 2, and the protocol 4 opcodes Python
// may use for strings and globals).
class Unpickler {
 public:
  Unpickler(const std::string& bytes, caffe2::serialize::PyTorchStreamReader& archive, size_t file_size)
      : data_(bytes), archive_(archive), file_size_(file_size) {}

  c10::IValue run() {
    while (true) {
      if (pos_ >= data_.size()) throw PickleError("data.pkl ends before its STOP opcode");
      const auto op = static_cast<uint8_t>(data_[pos_++]);
      switch (op) {
        case 0x80: read(1); break;  // PROTO
        case 0x95: read(8); break;  // FRAME
        case '.': return pop();     // STOP
        case '}': push(empty_dict()); break;
        case ']': push(c10::impl::GenericList(c10::AnyType::get())); break;
        case ')': push(c10::ivalue::Tuple::create({})); break;
        case '(': marks_.push_back(stack_.size()); break;
        case 'q': memoize(read_uint(1)); break;
        case 'r': memoize(read_uint(4)); break;
        case 0x94: memoize(memo_.size()); break;
        case 'h': recall(read_uint(1)); break;
        case 'j': recall(read_uint(4)); break;
        case 'J': push(static_cast<int64_t>(static_cast<int32_t>(read_uint(4)))); break;
        case 'K': push(static_cast<int64_t>(read_uint(1))); break;
        case 'M': push(static_cast<int64_t>(read_uint(2))); break;
        case 0x8a: push(read_long(read_uint(1))); break;
        case 'G': push(read_double()); break;
        case 'X': case 'T': case 'B': push(read(read_uint(4))); break;
        case 0x8c: case 'U': case 'C': push(read(read_uint(1))); break;
        case 0x8d: case 0x8e: push(read(read_uint(8))); break;
        case 'N': push(c10::IValue()); break;
        case 0x88: push(true); break;
        case 0x89: push(false); break;
        case 't': push(c10::ivalue::Tuple::create(pop_to_mark())); break;
        case 0x85: case 0x86: case 0x87: {
          std::vector<c10::IValue> items(op - 0x84);
          for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
          push(c10::ivalue::Tuple::create(std::move(items)));
          break;
        }
        case 'l': {
          c10::impl::GenericList list(c10::AnyType::get());
          for (auto& v : pop_to_mark()) list.push_back(std::move(v));
          push(list);
          break;
        }
        case 'a': {
          auto v = pop();
          top_list().push_back(std::move(v));
          break;
        }
        case 'e': {
          auto items = pop_to_mark();
          auto list = top_list();
          for (auto& v : items) list.push_back(std::move(v));
          break;
        }
        case 'd': {
          auto items = pop_to_mark();
          auto dict = empty_dict();
          set_items(dict, items);
          push(dict);
          break;
        }
        case 's': {
          auto value = pop();
          auto key = pop();
          std::vector<c10::IValue> items{std::move(key), std::move(value)};
          set_items(top_dict(), items);
          break;
        }
        case 'u': {
          auto items = pop_to_mark();
          set_items(top_dict(), items);
          break;
        }
        case 'c': {
          const auto module = read_line();
          push_global(module + "." + read_line());
          break;
        }
        case 0x93: {
          const auto name = pop_string();
          push_global(pop_string() + "." + name);
          break;
        }
        case 'R': case 0x81: {  // REDUCE, NEWOBJ: callable(*args)
          auto args = pop();
          if (!args.isTuple()) throw PickleError("call arguments are not a tuple");
          push(call(pop_global(), args.toTupleRef().elements().vec()));
          break;
        }
        case 'b': {  // BUILD: an OrderedDict's attributes (state_dict()._metadata) or a tensor's; not needed
          pop();
          if (stack_.empty()) throw PickleError("BUILD on an empty stack");
          break;
        }
        case 'Q': push(load_storage(pop())); break;  // BINPERSID
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          throw PickleError(std::string("unsupported pickle opcode ") + hex + " at byte " + std::to_string(pos_ - 1));
        }
      }
    }
  }

 private:
  static c10::impl::GenericDict empty_dict() { return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get()); }

  std::string read(uint64_t n) {
    if (n > data_.size() - pos_) throw PickleError("data.pkl is truncated");
    std::string out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t read_uint(int n) {
    const auto bytes = read(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
    return v;
  }
  int64_t read_long(uint64_t n) {
    if (n > 8) throw PickleError("an integer wider than 64 bits");
    if (n == 0) return 0;
    uint64_t v = read_uint(static_cast<int>(n));
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  double read_double() {
    uint64_t bits = 0;
    for (char c : read(8)) bits = (bits << 8) | static_cast<uint8_t>(c);  // big-endian
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  std::string read_line() {
    const auto end = data_.find('\n', pos_);
    if (end == std::string::npos) throw PickleError("data.pkl is truncated");
    std::string line = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return line;
  }

  // The stack holds IValues. LibTorch has no value for a Python class or function, so a global sits on
  // the stack as a placeholder whose name is in globals_; used as a value (the storage type inside a
  // persistent id) it becomes its name, "module.name".
  void push(c10::IValue v) {
    stack_.push_back(std::move(v));
    is_global_.push_back(-1);
  }
  void push_global(const std::string& name) {
    globals_.push_back(name);
    stack_.emplace_back();
    is_global_.push_back(static_cast<int64_t>(globals_.size() - 1));
  }
  c10::IValue pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) throw PickleError("stack underflow");
    auto v = is_global_.back() >= 0 ? c10::IValue(globals_[is_global_.back()]) : std::move(stack_.back());
    stack_.pop_back();
    is_global_.pop_back();
    return v;
  }
  std::string pop_global() {
    if (stack_.empty() || is_global_.back() < 0) throw PickleError("a call of something that is not a Python global");
    const auto name = globals_[is_global_.back()];
    stack_.pop_back();
    is_global_.pop_back();
    return name;
  }
  std::string pop_string() {
    auto v = pop();
    if (!v.isString()) throw PickleError("a global's name is not a string");
    return v.toStringRef();
  }
  std::vector<c10::IValue> pop_to_mark() {
    if (marks_.empty()) throw PickleError("no MARK on the stack");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<c10::IValue> items;
    for (size_t i = mark; i < stack_.size(); ++i)
      items.push_back(is_global_[i] >= 0 ? c10::IValue(globals_[is_global_[i]]) : std::move(stack_[i]));
    stack_.resize(mark);
    is_global_.resize(mark);
    return items;
  }
  c10::impl::GenericList top_list() {
    if (stack_.empty() || !stack_.back().isList()) throw PickleError("APPEND to something that is not a list");
    return stack_.back().toList();
  }
  c10::impl::GenericDict top_dict() {
    if (stack_.empty() || !stack_.back().isGenericDict()) throw PickleError("SETITEM on something that is not a dict");
    return stack_.back().toGenericDict();
  }
  static void set_items(c10::impl::GenericDict dict, std::vector<c10::IValue>& items) {
    if (items.size() % 2) throw PickleError("a dictionary with an odd number of keys and values");
    for (size_t i = 0; i < items.size(); i += 2) {
      const auto& key = items[i];
      if (!key.isString() && !key.isInt() && !key.isBool() && !key.isDouble())
        throw PickleError("a dictionary key of type " + key.tagKind());
      dict.insert_or_assign(key, items[i + 1]);
    }
  }
  void memoize(uint64_t index) {
    if (stack_.empty()) throw PickleError("PUT on an empty stack");
    if (is_global_.back() >= 0) {
      global_memo_[index] = globals_[is_global_.back()];
      memo_.erase(index);
    } else {
      memo_[index] = stack_.back();
      global_memo_.erase(index);
    }
  }
  void recall(uint64_t index) {
    if (auto g = global_memo_.find(index); g != global_memo_.end()) return push_global(g->second);
    auto it = memo_.find(index);
    if (it == memo_.end()) throw PickleError("GET of an unknown memo entry " + std::to_string(index));
    push(it->second);
  }

  c10::IValue call(const std::string& callable, const std::vector<c10::IValue>& args) {
    if (callable == "collections.OrderedDict") {
      auto dict = empty_dict();
      if (!args.empty() && args[0].isList()) {
        for (const auto& pair : args[0].toListRef()) {
          if (!pair.isTuple() || pair.toTupleRef().elements().size() != 2)
            throw PickleError("an OrderedDict item that is not a (key, value) pair");
          const auto& kv = pair.toTupleRef().elements();
          std::vector<c10::IValue> items{kv[0], kv[1]};
          set_items(dict, items);
        }
      }
      return dict;
    }
    if (callable == "torch._utils._rebuild_tensor_v2" || callable == "torch._utils._rebuild_tensor") {
      if (args.size() < 4 || !args[0].isTensor()) throw PickleError("bad arguments to " + callable);
      const auto storage = args[0].toTensor();
      const auto size = int_list(args[2]), stride = int_list(args[3]);
      const int64_t offset = args[1].toInt();
      check_view(size, stride, offset, storage.numel());
      return storage.as_strided(size, stride, offset);
    }
    // LibTorch's own pickler (torch::pickle_save) tags typed containers and specialised lists.
    if (callable == "torch.jit._pickle.restore_type_tag" || callable.rfind("torch.jit._pickle.build_", 0) == 0) {
      if (args.empty()) throw PickleError("bad arguments to " + callable);
      return args[0];
    }
    if (callable == "torch._utils._rebuild_parameter" || callable == "torch._utils._rebuild_parameter_with_state") {
      if (args.empty() || !args[0].isTensor()) throw PickleError("bad arguments to " + callable);
      return args[0];
    }
    throw PickleError("unsupported Python object " + callable);
  }

  // A tensor view must lie inside its storage: sizes and strides of the same length, none negative, and the
  // last element it reaches (computed without overflow) within the storage.
  static void check_view(const std::vector<int64_t>& size, const std::vector<int64_t>& stride, int64_t offset,
                         int64_t storage_numel) {
    if (size.size() != stride.size()) throw PickleError("a tensor with " + std::to_string(size.size()) +
                                                        " sizes but " + std::to_string(stride.size()) + " strides");
    if (offset < 0) throw PickleError("a tensor with a negative storage offset");
    int64_t last = offset;
    for (size_t d = 0; d < size.size(); ++d) {
      if (size[d] < 0 || stride[d] < 0) throw PickleError("a tensor with a negative size or stride");
      if (size[d] == 0) return;  // empty: reaches nothing
      int64_t step = 0;
      if (__builtin_mul_overflow(size[d] - 1, stride[d], &step) || __builtin_add_overflow(last, step, &last))
        throw PickleError("a tensor reaches past the end of its storage");
    }
    if (last >= storage_numel) throw PickleError("a tensor reaches past the end of its storage");
  }

  static std::vector<int64_t> int_list(const c10::IValue& v) {
    std::vector<int64_t> out;
    if (!v.isTuple()) throw PickleError("a tensor's size or stride is not a tuple");
    for (const auto& e : v.toTupleRef().elements()) out.push_back(e.toInt());
    return out;
  }

  // ('storage', torch.FloatStorage, key, location, numel): the record data/<key> as a 1-D CPU tensor.
  c10::IValue load_storage(const c10::IValue& pid) {
    if (!pid.isTuple() || pid.toTupleRef().elements().size() < 5) throw PickleError("unknown persistent id");
    const auto e = pid.toTupleRef().elements().vec();
    if (!e[0].isString() || e[0].toStringRef() != "storage" || !e[2].isString())
      throw PickleError("unknown persistent id");
    const std::string key = e[2].toStringRef();
    if (e[1].isString() == false || storage_types().count(e[1].toStringRef()) == 0)
      throw PickleError("storage " + key + " of an unsupported type " + (e[1].isString() ? e[1].toStringRef() : "?"));
    const auto dtype = storage_types().at(e[1].toStringRef());
    if (!e[4].isInt()) throw PickleError("storage " + key + " has no element count");
    const int64_t numel = e[4].toInt();
    if (auto cached = storages_.find(key); cached != storages_.end()) return cached->second;
    const std::string record = "data/" + key;
    const size_t bytes = record_size(record);
    // The pickle's count and the archive's size must agree before anything is allocated.
    const size_t item = c10::elementSize(dtype);
    if (numel < 0 || bytes % item != 0 || bytes / item != static_cast<uint64_t>(numel))
      throw PickleError(record + " holds " + std::to_string(bytes) + " bytes, not " + std::to_string(numel) +
                        " elements of " + std::to_string(item) + " bytes");
    auto tensor = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
    if (bytes > 0) archive_.getRecord(record, tensor.data_ptr(), bytes);
    storages_[key] = tensor;
    return tensor;
  }

  // A record's size, checked against the file: torch.save stores records uncompressed, so a larger size
  // is a damaged or forged header, not something to allocate.
  size_t record_size(const std::string& record) const {
    if (!archive_.hasRecord(record)) throw PickleError("the archive has no record " + record);
    const size_t bytes = archive_.getRecordSize(record);
    if (bytes > file_size_)
      throw PickleError(record + " claims " + std::to_string(bytes) + " bytes, more than the file's " +
                        std::to_string(file_size_));
    return bytes;
  }

  const std::string& data_;
  caffe2::serialize::PyTorchStreamReader& archive_;
  size_t file_size_;
  size_t pos_ = 0;
  std::vector<c10::IValue> stack_;
  std::vector<int64_t> is_global_;
  std::vector<std::string> globals_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, c10::IValue> memo_;
  std::unordered_map<uint64_t, std::string> global_memo_;
  std::unordered_map<std::string, torch::Tensor> storages_;
};

}  // namespace

c10::IValue read_torch_save(const std::string& path) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> archive;
  try {
    archive = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    // The reader's first sentence says what is wrong; the rest is general advice.
    const std::string why = e.what_without_backtrace();
    throw CheckpointError(path + ": not a torch.save zip archive (" + why.substr(0, why.find_first_of(".\n")) + ")");
  }
  try {
    const size_t file_size = std::filesystem::file_size(path);
    if (!archive->hasRecord("data.pkl")) throw PickleError("the archive has no data.pkl");
    if (archive->getRecordSize("data.pkl") > file_size) throw PickleError("data.pkl claims more bytes than the file has");
    auto [data, size] = archive->getRecord("data.pkl");
    const std::string bytes(static_cast<const char*>(data.get()), size);
    return Unpickler(bytes, *archive, file_size).run();
  } catch (const PickleError& e) {
    throw CheckpointError(path + ": " + e.what());
  } catch (const c10::Error& e) {
    const std::string why = e.what_without_backtrace();
    throw CheckpointError(path + ": unreadable (" + why.substr(0, why.find('\n')) + ")");
  }
}

}  // namespace l2w::io
