"""Names and layout of an SAE's two HDF5 files, beside its weights in `sae/<id>/`.

Both are contiguous and uncompressed so the reader memory-maps them, and every dataset starts
on a 64-byte boundary (`ALIGNED`, shared with the store).

`codes.h5`, written by the encode stage:

    attrs: n_latents, k, store_fingerprint, layer, sae_cfg (JSON)
    codes_idx                 int32   [n_rows, k]  latent ids, strongest first
    codes_val                 float16 [n_rows, k]  their activations (≥ 0)

`features.h5`, written by the salience stage from the codes (older workspaces kept these
datasets in `codes.h5` itself; readers look there when there is no `features.h5`):

    attrs: index_max_per_feature (0 = every activating row), salience_split,
           tokens_chosen, tokens_rejected, tokens_chosen_all, tokens_rejected_all
    by_feature/offsets        int64   [n_latents + 1]  feature j's rows: offsets[j]:offsets[j+1]
    by_feature/rows           int64   [nnz]            activation rows, strongest first
    by_feature/vals           float16 [nnz]            their activations
    stats/sum_chosen, stats/sum_rejected      float64 [n_latents]  over selected tokens
    stats/fires_chosen, stats/fires_rejected  float64 [n_latents]
    stats/*_all (the four above)              float64 [n_latents]  over every row (since
                                                                   the all-token figures)
    stats/max_act, stats/density              float32 [n_latents]  over every row
    stats/hist                                int64   [n_latents, n_bins]
    stats/hist_edges                          float32 [n_bins + 1]
    stats/salience                            float32 [n_latents]
"""

from __future__ import annotations

IDX = "codes_idx"
VAL = "codes_val"
OFFSETS = "by_feature/offsets"
ROWS = "by_feature/rows"
VALS = "by_feature/vals"
STATS = "stats"
STAT_FIELDS = (
    "sum_chosen",
    "sum_rejected",
    "fires_chosen",
    "fires_rejected",
    "max_act",
    "density",
    "hist",
    "hist_edges",
    "sum_chosen_all",
    "sum_rejected_all",
    "fires_chosen_all",
    "fires_rejected_all",
)
SALIENCE = "stats/salience"


def stat(name: str) -> str:
    """The dataset name of one statistic."""
    return f"{STATS}/{name}"
