// Precompiled for every l2w target.
#pragma once
#include <torch/torch.h>
