// The option lists that the command's flags, Python's keywords and the errors come from: every option
// of every list reads back what it writes, names itself in its errors, and has one name in the lists a
// command combines.
#include <set>

#include <gtest/gtest.h>

#include "l2w/criterion/knowledge_distillation.h"
#include "l2w/dataset/data_sets.h"
#include "l2w/distributed/job_options.h"
#include "l2w/eval/checkpoint_evaluation.h"
#include "l2w/infer/deployment.h"
#include "l2w/meta/training_method.h"
#include "l2w/runtime/option_list.h"
#include "l2w/runtime/process_setup.h"
#include "l2w/train/trainer.h"
#ifdef L2W_WITH_SERVER
#include "l2w/serve/serving_stack.h"
#endif

namespace l2w {
namespace {

// Each option's default, written as text and read back, leaves the struct as it was; a value it cannot
// take is refused with an OptionError that names the option; every option has help and spellings.
template <class S>
void check_list(const options::OptionList<S>& list, S defaults, const std::string& what) {
  std::set<std::string> names;
  for (const auto& o : list) {
    SCOPED_TRACE(what + "." + o.name);
    EXPECT_TRUE(names.insert(o.name).second) << "two options named " << o.name;
    EXPECT_FALSE(o.help.empty());
    EXPECT_FALSE(o.type_name.empty());
    for (const auto& flag : o.flags) EXPECT_EQ(flag[0], '-');
    S copy = defaults;
    const auto text = o.text(defaults);
    if (!text.empty()) {
      o.set(copy, text);
      EXPECT_EQ(o.text(copy), text);
    }
    if (o.type_name == "TEXT") continue;  // any text is a path or an address
    try {
      o.set(copy, "not-a-value");
      ADD_FAILURE() << "'not-a-value' was taken";
    } catch (const options::OptionError& e) {
      EXPECT_EQ(e.name, o.name);
      EXPECT_EQ(std::string(e.what()).rfind(o.name + ": ", 0), 0u) << e.what();
    }
  }
}

TEST(OptionList, EveryListReadsBackItsDefaultsAndNamesItselfInErrors) {
  check_list(train::TrainerOptions::option_list(), train::TrainerOptions{}, "trainer");
  check_list(train::SgdOptions::option_list(), train::SgdOptions{}, "sgd");
  check_list(train::LrSchedule::option_list(), train::LrSchedule{}, "schedule");
  check_list(meta::MethodOptions::option_list(), meta::MethodOptions{}, "method");
  check_list(dataset::DataOptions::option_list(), dataset::DataOptions{}, "data");
  check_list(infer::DeploymentOptions::option_list(), infer::DeploymentOptions{}, "deployment");
  check_list(eval::EvaluationOptions::option_list(), eval::EvaluationOptions{}, "evaluation");
  check_list(runtime::RuntimeOptions::option_list(), runtime::RuntimeOptions{}, "runtime");
  check_list(distributed::JobRequest::option_list(), distributed::JobRequest{}, "job");
#ifdef L2W_WITH_SERVER
  check_list(serve::ServingOptions::option_list(), serve::ServingOptions{}, "serving");
#endif
}

TEST(OptionList, ValuesAreParsedCheckedAndSetOnTheField) {
  const auto& list = train::TrainerOptions::option_list();
  train::TrainerOptions o;
  options::find(list, "epochs")->set(o, "7");
  options::find(list, "lr")->set(o, "0.05");
  options::find(list, "lr_type")->set(o, "multistep");
  options::find(list, "milestones")->set(o, "3,5.5");
  options::find(list, "use_valid")->set(o, "true");
  EXPECT_EQ(o.epochs(), 7);
  EXPECT_EQ(o.sgd().lr(), 0.05);
  EXPECT_EQ(o.schedule().type, train::LrType::kMultistep);
  EXPECT_EQ(o.schedule().milestones, (std::vector<double>{3, 5.5}));
  EXPECT_TRUE(o.use_valid());
  const auto error = [&](const std::string& name, const std::string& text) {
    try {
      options::find(list, name)->set(o, text);
    } catch (const options::OptionError& e) {
      return std::string(e.what());
    }
    return std::string("taken");
  };
  EXPECT_EQ(error("epochs", "0"), "epochs: '0' must be positive");
  EXPECT_EQ(error("epochs", "2.5"), "epochs: '2.5' is not a value it takes (an integer)");
  EXPECT_EQ(error("lr_type", "step"), "lr_type: 'step' is not one of cosine, multistep");
  EXPECT_EQ(error("amp", "fp8"), "amp: 'fp8' is not one of off, bf16, fp16");
  EXPECT_EQ(o.epochs(), 7);  // a refused value leaves the field as it was
}

TEST(OptionList, TheTrainersOptionsAreCompletedAsTheCommandRunsThem) {
  train::TrainerOptions o;
  o.epochs(8).sgd().lr(0.2);
  o.schedule().type = train::LrType::kMultistep;
  const auto done = train::complete_trainer_options(o, "cifar10", "");
  EXPECT_EQ(done.schedule().base_lr, 0.2);
  EXPECT_EQ(done.schedule().milestones, (std::vector<double>{4, 6}));
  o.sgd().nesterov(true).momentum(0);
  try {
    train::complete_trainer_options(o, "cifar10", "");
    ADD_FAILURE() << "Nesterov without momentum was taken";
  } catch (const options::OptionError& e) {
    EXPECT_EQ(e.name, "nesterov");
  }
}

}  // namespace
}  // namespace l2w
