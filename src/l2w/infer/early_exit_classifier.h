// Early-exit inference: the network runs block by block, each exit is computed only for the samples still
// inside, and a sample leaves at the first exit whose score by the exit criterion (float32; max-prob: the
// largest softmax probability) reaches that exit's threshold. The rest continue as a smaller batch, so the
// compute really stops. An exit whose threshold no score can reach is not computed, and with none reachable
// before the last the network runs whole, as deployed without early exits.
#pragma once

#include <chrono>
#include <vector>

#include "l2w/criterion/exit_criterion.h"
#include "l2w/infer/stage_engine.h"
#include "l2w/models/multi_exit_network.h"

namespace l2w::infer {

// The batch size a compacted batch of n samples is padded to (with copies of its last sample): n up to 4,
// then the next of 6, 8, 12, 16, 24, 32, then of 48, 64, 80, ... (steps of 16 up to 256, of a sixteenth
// of the next power of two above). Convolution backends prepare a kernel per input shape (oneDNN's
// primitives on the CPU, cuDNN's plans on a GPU), and preparing one costs more than running it: if every
// compacted batch had its own size, the preparations would cost more than the inference (docs/inference.md).
int64_t padded_batch_size(int64_t n);

// The given rows of a batch (dimension 0) in the batch's own memory layout. index_select alone returns
// NCHW, so a channels_last network would reorder every compacted feature map at its next convolution.
torch::Tensor select_rows(const torch::Tensor& batch, const torch::Tensor& rows);

// Per sample: the class chosen, its probability and the exit (0-based) that chose it.
struct ExitDecisions {
  torch::Tensor prediction;  // int64 [N]
  torch::Tensor confidence;  // float32 [N]: the score by the criterion at the exit taken
  torch::Tensor exit_index;  // int64 [N]
};

// Where classify() spends its time, when profiling is on (CUDA is synchronised at each mark).
struct EngineProfile {
  double blocks_s = 0;     // the backbone's blocks
  double exits_s = 0;      // the exits' classifiers
  double decisions_s = 0;  // softmax, threshold checks, recording results and compacting the batch
  std::vector<double> stage_s;  // per k: block k and exit k
  double total() const { return blocks_s + exits_s + decisions_s; }
};

// cuDNN's benchmark mode searches for the fastest algorithm at each new input shape. Compaction makes
// many shapes (a batch size per layer for each padded size), so the searches would cost more than the
// inference: the GPU check measured early exit at 0.04x the whole network's throughput with it on, before
// padding. The engines turn it off while they classify.
class NoCudnnBenchmark {
 public:
  NoCudnnBenchmark();
  ~NoCudnnBenchmark();
  NoCudnnBenchmark(const NoCudnnBenchmark&) = delete;
  NoCudnnBenchmark& operator=(const NoCudnnBenchmark&) = delete;

 private:
  bool previous_;
};

struct DeployedNetwork;  // infer/deployment.h

class EarlyExitClassifier {
 public:
  // `thresholds` has one entry per exit; the last exit takes whoever is left, whatever its entry. Images are
  // given to the network in `input_format` (channels_last for a network in that form, infer/inference_form.h)
  // and in the dtype of its weights when it is constructed; the decisions are taken in float32.
  // `temperatures` (one per exit, or empty for none) divide each exit's logits before the softmax, as
  // eval --calibrate fitted them.
  EarlyExitClassifier(models::MultiExitNetwork net, std::vector<float> thresholds,
                      torch::MemoryFormat input_format = torch::MemoryFormat::Contiguous,
                      criterion::ExitCriterion criterion = criterion::ExitCriterion::kMaxProb,
                      std::vector<float> temperatures = {});
  // On a deployed network, as it was deployed: its input layout and precision, and its stages computed by
  // the engine it was deployed on (LibTorch, or another: infer/stage_engine.h).
  EarlyExitClassifier(const DeployedNetwork& m, std::vector<float> thresholds,
                      criterion::ExitCriterion criterion = criterion::ExitCriterion::kMaxProb,
                      std::vector<float> temperatures = {});

  // One batch, compacted after each exit: the images still inside go on as a smaller batch.
  ExitDecisions classify(const torch::Tensor& images);
  // Whether some image can leave before the last exit: a threshold there that the criterion's scores can
  // reach. Without one, classify() is classify_full() with the last exit's scores.
  bool exits_early() const;
  // Computes every exit even where no score can reach its threshold: with never_exit()'s thresholds, the
  // path of an image that reaches the last exit under early exit (what deployment and benchmarks time).
  void set_compute_every_exit(bool on) { compute_every_exit_ = on; }
  // Whether classify() runs the network whole, in one pass: no exit before the last is computed.
  bool runs_whole() const { return !compute_every_exit_ && !exits_early(); }
  // The network without early exits, as deployed without them: every block, the last exit only.
  torch::Tensor classify_full(const torch::Tensor& images);
  torch::Tensor full_logits(const torch::Tensor& images);  // classify_full's logits, in float32

  // What each image decided at one exit (rows: the first `real` of the batch).
  struct ExitStep {
    torch::Tensor leave;       // bool [real]: the score reached the exit's threshold (all at the last exit)
    torch::Tensor prediction;  // int64 [real]
    torch::Tensor confidence;  // float32 [real]
  };
  // Block k on `features` (replaced by its output), exit k, and the decisions there, for a batch whose
  // first `real` rows are images (the rest pad it). classify() and the stage-wise engine step through it.
  ExitStep step(int64_t k, models::Features& features, int64_t real, criterion::ExitScorer& scorer);

  // Images as the network takes them: in its weights' dtype and its input layout.
  torch::Tensor prepare(const torch::Tensor& images) const { return images.to(dtype_).contiguous(input_format_); }

  int64_t num_exits() const { return net_->num_exits(); }
  torch::MemoryFormat input_format() const { return input_format_; }
  criterion::ExitCriterion exit_criterion() const { return criterion_; }

  void set_profiling(bool on) { profiling_ = on; }
  const EngineProfile& profile() const { return profile_; }
  // Profiling: the clock starts (at a call's beginning), and the time since the last mark goes to the
  // exit checks and compaction.
  void start_clock();
  void mark_decisions() { mark(profile_.decisions_s); }

 private:
  void mark(double& bucket);
  ExitDecisions classify_one(const torch::Tensor& image);
  ExitDecisions classify_whole(const torch::Tensor& images);
  // Exit k's score and prediction from its logits: float32, divided by its temperature, then the criterion.
  criterion::ExitScorer::Scored score(int64_t k, torch::Tensor logits, criterion::ExitScorer& scorer) const;
  // Whether exit k can let an image leave (the last always does), and whether it is computed.
  bool can_leave_at(int64_t k) const;
  bool computes_exit(int64_t k) const { return compute_every_exit_ || can_leave_at(k); }

  models::MultiExitNetwork net_;
  std::shared_ptr<StageEngine> stages_;  // null: the network's own modules compute the stages
  bool stages_for_single_ = false, stages_for_batches_ = false;  // which batches stages_ computes
  std::vector<float> thresholds_;
  bool compute_every_exit_ = false;
  bool profiling_ = false;
  EngineProfile profile_;
  std::chrono::steady_clock::time_point last_;
  torch::Device device_;
  torch::ScalarType dtype_;  // the weights' (bfloat16 for a network deployed in it)
  torch::MemoryFormat input_format_;
  criterion::ExitCriterion criterion_;
  std::vector<float> temperatures_;
};

}  // namespace l2w::infer
