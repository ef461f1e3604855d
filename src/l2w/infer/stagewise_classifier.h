// Early-exit inference over a stream of batches with every block at the full batch size
// (docs/inference.md, "Stage-wise batching"). The per-batch engine shrinks each batch at every exit, so
// the later blocks run small batches, which convolutions run far less efficiently per image. Here the
// images that continue past exit k wait before block k+1 until a full batch of them has gathered (or the
// stream ends): every block and every exit's classifier runs at the stream's batch size, and each image
// keeps its own answer and exit, the ones the per-batch engine gives it.
//
// What waits is everything a block needs from the ones before it (MSDNet's scales, RANet's flows,
// IMTA's carried logits: the network's Features) and the exit criterion's carried state (patience), with
// each image's place in the stream. At most one batch waits before each block: memory stays bounded by
// the batch size, whatever the stream's length.
#pragma once

#include <string>
#include <vector>

#include "l2w/infer/early_exit_classifier.h"

namespace l2w::infer {

// How inference over a stream of batches forms its batches: stage-wise (every block at the batch size)
// or per batch (each batch compacted at every exit, as a single request is).
enum class Batching { kStageWise, kPerBatch };
std::string batching_name(Batching batching);  // "stage-wise", "per-batch"

class StagewiseClassifier {
 public:
  // Runs `engine`'s network, thresholds and criterion (`engine` must outlive this) at `batch_size`
  // images per block.
  StagewiseClassifier(EarlyExitClassifier& engine, int64_t batch_size);

  // The stream's next images (any count). Images reach their exits as full batches gather, so an
  // image's decision may come only with a later push or with finish().
  void push(const torch::Tensor& images);
  // Runs whatever still waits (each block once more, at most, on the remainder) and returns the decisions
  // of every image pushed since the last finish, in the order they were pushed.
  ExitDecisions finish();

  int64_t batch_size() const { return batch_size_; }
  int64_t waiting() const;  // images waiting before a block

 private:
  // Images waiting before one block: their rows of what that block reads, then of the criterion's state.
  struct Queue {
    std::vector<torch::Tensor> carried;  // each with batch_size rows, the first `count` filled
    size_t features = 0;                 // how many of them the block reads; the rest are the criterion's
    torch::Tensor ids;                   // int64 [batch_size]: each row's place in the stream
    int64_t count = 0;
  };
  // Appends rows `rows` (int64; undefined: the first ids.size(0)) of `carried` (its first `features`
  // tensors the block's input) to block k's queue, running block k on each full batch.
  void enqueue(int64_t k, const std::vector<torch::Tensor>& carried, size_t features, const torch::Tensor& rows,
               const torch::Tensor& ids);
  // Block k and exit k on a batch whose first `real` rows are images; those that stay go to block k+1.
  void run(int64_t k, Queue batch, int64_t real);
  // Runs the images waiting before block k, padded to one of a few batch sizes.
  void flush(int64_t k);

  EarlyExitClassifier& engine_;
  int64_t batch_size_;
  std::vector<Queue> queues_;  // one per block
  int64_t pushed_ = 0;
  std::vector<torch::Tensor> done_ids_;
  std::vector<ExitDecisions> done_;
};

}  // namespace l2w::infer
