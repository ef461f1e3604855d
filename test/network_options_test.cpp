#include <gtest/gtest.h>

#include "l2w/models/network_options.h"

namespace l2w {
namespace {

models::NetworkOptions msdnet() { return models::NetworkOptions(); }
models::NetworkOptions ranet() { return models::NetworkOptions().arch(models::Arch::kRANet); }

TEST(NetworkOptions, DescriptionsKeepTheFormatCheckpointsStore) {
  EXPECT_EQ(models::describe(msdnet()),
            "msdnet nBlocks=5 nChannels=16 base=1 stepmode=lin_grow step=1 growthRate=6 grFactor=1-2-4 "
            "bnFactor=1-2-4 prune=max bottleneck=true reduction=0.5 classes=10 in_channels=3 stem=small");
  auto imagenet = ranet();
  imagenet.ranet().step_grows(true).imagenet(true).compress_factor(0.125);
  EXPECT_EQ(models::describe(imagenet),
            "RANet nBlocks=2 block-step=2 nChannels=16 growthRate=6 grFactor=4-2-1 bnFactor=4-2-1 scale-list=1-2-3 "
            "compress-factor=0.125 step=4 stepmode=lg reduction=0.5 classes=10 in_channels=3 stem=imagenet");
}

// Each key=value of the description, changed in turn, is found as that one field's difference.
void expect_every_field_checked(const models::NetworkOptions& options) {
  const std::string description = models::describe(options);
  EXPECT_TRUE(models::description_differences(description, options).empty());
  size_t fields = 0;
  for (size_t at = description.find(' '); at != std::string::npos; at = description.find(' ', at + 1)) {
    const size_t equals = description.find('=', at);
    const size_t end = description.find(' ', equals);
    const std::string key = description.substr(at + 1, equals - at - 1);
    const std::string changed = description.substr(0, equals + 1) + "changed" +
                                (end == std::string::npos ? "" : description.substr(end));
    const auto differences = models::description_differences(changed, options);
    ASSERT_EQ(differences.size(), 1u) << changed;
    EXPECT_EQ(differences[0].rfind(key + ": changed there, ", 0), 0u) << differences[0];
    ++fields;
  }
  EXPECT_GE(fields, 14u);
}

TEST(NetworkOptions, EveryFieldOfEitherBackboneIsChecked) {
  expect_every_field_checked(msdnet());
  expect_every_field_checked(ranet());
}

TEST(NetworkOptions, AFieldAnOlderDescriptionLacksAgreesOnlyAtItsDefault) {
  const std::string without_prune =
      "msdnet nBlocks=5 nChannels=16 base=1 stepmode=lin_grow step=1 growthRate=6 grFactor=1-2-4 "
      "bnFactor=1-2-4 bottleneck=true reduction=0.5 classes=10 in_channels=3 stem=small";
  EXPECT_TRUE(models::description_differences(without_prune, msdnet()).empty());
  auto pruned_min = msdnet();
  pruned_min.msdnet().prune(models::Prune::kMin);
  EXPECT_EQ(models::description_differences(without_prune, pruned_min),
            (std::vector<std::string>{"prune: max there, min here"}));
}

TEST(NetworkOptions, AnotherArchitectureOrAnUnknownFieldDiffers) {
  EXPECT_EQ(models::description_differences(models::describe(ranet()), msdnet()),
            (std::vector<std::string>{"architecture: RANet there, msdnet here"}));
  EXPECT_EQ(models::description_differences(models::describe(msdnet()) + " width=2", msdnet()),
            (std::vector<std::string>{"width: 2 there, not a field here"}));
  auto seven = msdnet();
  seven.msdnet().n_blocks(7).num_classes(100);
  EXPECT_EQ(models::description_differences(models::describe(msdnet()), seven),
            (std::vector<std::string>{"nBlocks: 5 there, 7 here", "classes: 10 there, 100 here"}));
}

// A checkpoint's description gives back the options it was written from, every field set away from its
// default; fields take their key or member name, and a value or field that does not exist is refused.
TEST(NetworkOptions, ADescriptionGivesBackItsOptions) {
  auto m = msdnet();
  m.imta_heads(true);
  m.msdnet().n_blocks(3).step_mode(models::StepMode::kEven).gr_factor({1, 2, 4, 4}).bn_factor({1, 2, 2, 4})
      .prune(models::Prune::kMin).bottleneck(false).reduction(0.25).num_classes(100).in_channels(1).imagenet(true);
  EXPECT_EQ(models::describe(models::options_from_description(models::describe(m))), models::describe(m));
  auto r = ranet();
  r.ranet().step_grows(true).scale_list({1, 2, 3, 3}).compress_factor(0.5).block_step(1);
  const auto back = models::options_from_description(models::describe(r));
  EXPECT_EQ(back.arch(), models::Arch::kRANet);
  EXPECT_TRUE(back.ranet().step_grows());
  EXPECT_EQ(models::describe(back), models::describe(r));
  auto o = msdnet();
  models::set_field(o, "n_blocks", "4");
  models::set_field(o, "growthRate", "8");
  models::set_field(o, "stepmode", "even");
  EXPECT_EQ(o.msdnet().n_blocks(), 4);
  EXPECT_EQ(o.msdnet().growth_rate(), 8);
  EXPECT_EQ(o.msdnet().step_mode(), models::StepMode::kEven);
  auto error_of = [&](const std::string& field, const std::string& value) {
    try {
      models::set_field(o, field, value);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error_of("stepmode", "lg"), "step_mode: 'lg' is not a value it takes (one of even, lin_grow)");
  EXPECT_EQ(error_of("nBlocks", "3.5"), "n_blocks: '3.5' is not a value it takes (an integer)");
  EXPECT_EQ(error_of("grFactor", "1-x"),
            "gr_factor: '1-x' is not a value it takes (integers joined by dashes, such as 1-2-4)");
  EXPECT_EQ(error_of("width", "2").rfind("width: not an option of msdnet (it takes nBlocks, n_blocks, nChannels", 0), 0u);
  // A yes/no field written as words takes true and false too (as Python's True and False arrive).
  models::NetworkOptions stem;
  models::set_field(stem, "imagenet", "true");
  EXPECT_TRUE(stem.msdnet().imagenet());
  models::set_field(stem, "stem", "small");
  EXPECT_FALSE(stem.msdnet().imagenet());
}

}  // namespace
}  // namespace l2w
