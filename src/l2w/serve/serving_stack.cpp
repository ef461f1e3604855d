#include "l2w/serve/serving_stack.h"

#include "l2w/dataset/batch_loader.h"
#include "l2w/dataset/validation_split.h"
#include "l2w/eval/dynamic.h"
#include "l2w/io/run_folder.h"
#include "l2w/train/trained_network.h"

namespace l2w::serve {
namespace {

// std::invalid_argument unless the menu was made for this network: its exits' costs and criterion.
void check_menu_fits(const BudgetMenu& menu, const infer::DeployedNetwork& m, const ServingOptions& o) {
  std::vector<int64_t> costs;
  for (const auto& c : m.costs) costs.push_back(c.muladds);
  if (menu.exit_muladds != costs || menu.full_muladds != m.last_exit_only_muladds)
    throw options::OptionError("budgets", o.budgets() + ": made for another network (its exits cost other MUL-ADDs)");
  if (menu.criterion != o.exit_criterion())
    throw options::OptionError("budgets", o.budgets() + ": fitted for the exit criterion " +
                                criterion::exit_criterion_name(menu.criterion) + ", not exit_criterion " +
                                criterion::exit_criterion_name(o.exit_criterion()));
}

// A duration in seconds given in milliseconds.
template <class Field>
options::Option<ServingOptions> milliseconds(const std::string& name, const std::string& flag, Field seconds,
                                             options::Check check, const std::string& help) {
  return options::converted<ServingOptions>(
      name, {flag}, "MS",
      [seconds](const ServingOptions& o) { return options::number_text(seconds(const_cast<ServingOptions&>(o)) * 1e3); },
      [seconds, name, check](ServingOptions& o, const std::string& t) { seconds(o) = options::parse_number(name, t, check) / 1e3; },
      help);
}

}  // namespace

const options::OptionList<ServingOptions>& ServingOptions::option_list() {
  using namespace options;
  using S = ServingOptions;
  static const OptionList<S> list{
      milliseconds("slo_ms", "--slo-ms", L2W_FIELD(controller().slo_s), Check::kPositive,
                   "latency target per request, ms: the budget falls as load rises to keep it")
          .in("serving"),
      value<S>("budgets", {"--budgets"}, L2W_FIELD(budgets),
               "budget menu file (default: fitted on the validation images, RUN/budgets.txt)")
          .in("serving"),
      value<S>("budget_muladds", {"--budget"}, L2W_FIELD(budget_muladds),
               "pin the most expensive budget within these MUL-ADDs per image", Check::kPositive)
          .in("serving"),
      value<S>("max_batch", {"--max-batch"}, L2W_FIELD(controller().max_batch), "images per batch at most", Check::kPositive)
          .in("serving"),
      milliseconds("max_wait_ms", "--max-wait-ms", L2W_FIELD(controller().max_wait_s), Check::kNonNegative,
                   "how long a batch waits to fill, ms")
          .in("serving"),
      value<S>("max_queue", {"--max-queue"}, L2W_FIELD(queue().max_queued_images), "images queued at most; beyond, 503",
               Check::kPositive)
          .in("serving"),
      value<S>("max_body_bytes", {"--max-body-bytes"}, L2W_FIELD(server().max_body_bytes),
               "request bodies beyond this get 413", Check::kPositive)
          .in("serving"),
      value<S>("max_image_pixels", {"--max-image-pixels"}, L2W_FIELD(server().max_image_pixels),
               "images whose headers declare more pixels get 413, undecoded (default: Pillow's limit)", Check::kPositive)
          .in("serving"),
      value<S>("bind", {"--bind"}, L2W_FIELD(server().bind), "address to listen on (default: loopback only)").in("listening"),
      converted<S>(
          "port", {"--port"}, "N (0 to 65535)", [](const S& o) { return std::to_string(o.server().port()); },
          [](S& o, const std::string& t) {
            const int64_t port = parse_integer("port", t, Check::kNonNegative);
            if (port > 65535) throw OptionError("port", "'" + t + "' must be 0 to 65535");
            o.server().port(static_cast<int>(port));
          },
          "port (0: a free one, printed)")
          .in("listening"),
      value<S>("access_log", {"--access-log"}, L2W_FIELD(server().access_log),
               "append a line per request to this file: time, request id, method and path, status, exits, ms")
          .in("listening"),
  };
  return list;
}

ServingStack::ServingStack(const dataset::DataSplits& data, ServingOptions options)
    : options_(std::move(options)), data_(data) {
  const auto image_shape = data_.test->image_shape();
  network_ = infer::deploy(train::load_trained_network(options_.checkpoint(), options_.arch()), image_shape,
                           options_.device(), options_.deployment());
  const auto plan = infer::plan_deployment(network_, options_.deployment(), options_.device());
  network_report_ = plan.network, threads_report_ = plan.threads, precision_report_ = plan.precision;
  BudgetMenu menu;
  if (options_.budgets().empty()) {
    // The menu from the deployed network's validation outputs, in the layout, precision and engine it will
    // serve in, so that a budget holds as served.
    const io::RunFolder folder = io::RunFolder(options_.run_dir()).create();
    dataset::SplitOptions split;
    split.use_valid = options_.use_valid();
    const auto loader_options = dataset::LoaderOptions()
                                    .batch_size(dataset::evaluation_batch_size(options_.controller().max_batch()))
                                    .workers(options_.workers())
                                    .skip_bad_images(options_.skip_bad_images());
    dataset::BatchLoader loader(data_.train, dataset::run_split(folder.valid_index(), data_.train->size(), split).valid,
                                loader_options);
    const auto outputs = eval::collect_outputs(infer::exit_logits(network_), loader, options_.device());
    const auto valid = eval::exit_confidences(outputs, options_.exit_criterion());
    menu = fit_budget_menu(valid, network_.costs, network_.last_exit_only_muladds);
    write_budget_menu(folder.budgets(), menu);
    menu_report_ = std::to_string(menu.budgets.size()) + " budgets fitted on " +
                   std::to_string(valid.confidence.size(1)) + " validation images in " +
                   runtime::dtype_name(network_.precision.dtype) + ", written to " + folder.budgets();
  } else {
    menu = read_budget_menu(options_.budgets());
    check_menu_fits(menu, network_, options_);
    menu_report_ = std::to_string(menu.budgets.size()) + " budgets read from " + options_.budgets();
  }
  engine_ = std::make_unique<BudgetedEngine>(network_, std::move(menu), plan.throughput_threads, plan.latency_threads);
  format_ = input_format(*data_.test);
  times_.resize(engine_->menu().budgets.size());
}

void ServingStack::warm_up() {
  const int64_t max_batch = options_.controller().max_batch();
  dataset::BatchLoader loader(data_.test, {}, dataset::LoaderOptions().batch_size(max_batch));
  loader.start_epoch(0);
  const auto sample = loader.next();
  if (!sample) throw options::OptionError("data", "no test images to warm up and measure the budgets on");
  engine_->warm_up(sample->images, max_batch);
  if (pinned_budget() < 0)
    times_ = measure_service_times(*engine_, sample->images, max_batch);
  else  // a pinned server needs no times to choose budgets; the full network's gives its capacity
    times_.back() = measure_service_time(*engine_, sample->images, max_batch, times_.size() - 1);
}

int64_t ServingStack::pinned_budget() const {
  if (options_.budget_muladds() <= 0) return -1;
  return static_cast<int64_t>(menu().at_most(options_.budget_muladds()));
}

BudgetController ServingStack::controller(int64_t pinned) const {
  auto o = options_.controller();
  return BudgetController(times_, o.pinned(pinned));
}

BatchEngine ServingStack::batch_engine() {
  return [this](const torch::Tensor& images, size_t budget) { return engine_->classify(images, budget); };
}

double ServingStack::full_capacity() const {
  const int64_t max_batch = options_.controller().max_batch();
  return static_cast<double>(max_batch) / times_.back().of(max_batch);
}

}  // namespace l2w::serve
