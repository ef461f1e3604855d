// Anchors the precompiled header that every l2w target reuses.
