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
    throw std::invalid_argument("budgets " + o.budgets() + ": made for another network (its exits cost other MUL-ADDs)");
  if (menu.criterion != o.exit_criterion())
    throw std::invalid_argument("budgets " + o.budgets() + ": fitted for the exit criterion " +
                                criterion::exit_criterion_name(menu.criterion) + ", not exit_criterion " +
                                criterion::exit_criterion_name(o.exit_criterion()));
}

}  // namespace

ServingStack::ServingStack(const dataset::DataSplits& data, ServingOptions options)
    : options_(std::move(options)), data_(data) {
  auto net = train::load_trained_network(options_.checkpoint(), options_.arch());
  const auto image_shape = data_.test->image_shape();
  BudgetMenu menu;
  if (options_.budgets().empty()) {
    // The menu from the trained network's validation outputs, before deploy() turns it into its
    // inference form: one load serves both.
    const io::RunFolder folder = io::RunFolder(options_.run_dir()).create();
    net->to(options_.device());
    dataset::SplitOptions split;
    split.use_valid = options_.use_valid();
    const auto loader_options = dataset::LoaderOptions()
                                    .batch_size(std::max<int64_t>(options_.controller().max_batch(), 256))
                                    .workers(options_.workers())
                                    .skip_bad_images(options_.skip_bad_images());
    dataset::BatchLoader loader(data_.train, dataset::run_split(folder.valid_index(), data_.train->size(), split).valid,
                                loader_options);
    const auto valid = eval::exit_confidences(eval::collect_outputs(*net, loader, options_.device(), options_.amp()),
                                              options_.exit_criterion());
    network_ = infer::deploy(net, image_shape, options_.device(), options_.deployment());
    menu = fit_budget_menu(valid, network_.costs, network_.last_exit_only_muladds);
    write_budget_menu(folder.budgets(), menu);
    menu_report_ = std::to_string(menu.budgets.size()) + " budgets fitted on " +
                   std::to_string(valid.confidence.size(1)) + " validation images, written to " + folder.budgets();
  } else {
    network_ = infer::deploy(net, image_shape, options_.device(), options_.deployment());
    menu = read_budget_menu(options_.budgets());
    check_menu_fits(menu, network_, options_);
    menu_report_ = std::to_string(menu.budgets.size()) + " budgets read from " + options_.budgets();
  }
  const auto plan = infer::plan_deployment(network_, options_.deployment(), options_.device());
  network_report_ = plan.network, threads_report_ = plan.threads;
  engine_ = std::make_unique<BudgetedEngine>(network_, std::move(menu), plan.throughput_threads, plan.latency_threads);
  format_ = input_format(*data_.test);
  times_.resize(engine_->menu().budgets.size());
}

void ServingStack::warm_up() {
  const int64_t max_batch = options_.controller().max_batch();
  dataset::BatchLoader loader(data_.test, {}, dataset::LoaderOptions().batch_size(max_batch));
  loader.start_epoch(0);
  const auto sample = loader.next();
  if (!sample) throw std::invalid_argument("data: no test images to warm up and measure the budgets on");
  engine_->warm_up(sample->images, max_batch);
  if (pinned_budget() < 0) times_ = measure_service_times(*engine_, sample->images, max_batch);
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
