"""Names and version of the HDF5 store's layout (see docs/ARCHITECTURE.md, "The store").

Datasets read on hot paths are contiguous and uncompressed so the reader can memory-map them.

    attrs: schema_version, config (JSON), data_fingerprint, model, layer, d_model, normalise,
           policy
    docs/tok_start, docs/tok_end      int64 [n_docs]  token rows of each distinct text
    docs/resp_start, docs/resp_end    int64 [n_docs]  token rows of its response
    pairs/pair_id                     S16   [n_pairs]
    pairs/chosen_doc, rejected_doc    int64 [n_pairs]
    pairs/slice, pairs/split          int16 codes, names in the attrs `names`
    tokens/ids                        int32 [n_tokens]
    vocab/pieces                      utf-8 strings [vocab], concatenable text per token id
    acts/<layer>/values               float16 [n_rows, d_model]   raw residual stream
    acts/<layer>/token_row            int64 [n_rows]
    acts/<layer>/doc                  int64 [n_rows]
    acts/<layer>/selected             bool  [n_rows]  chosen by the selection policy
"""

from __future__ import annotations

SCHEMA_VERSION = 1
# Every dataset starts on a 64-byte boundary: numpy copies a whole misaligned memmap before
# searching or sorting it (120 MB per call on a 20M-token store).
ALIGNED = {"alignment_threshold": 1, "alignment_interval": 64}


def acts_group(layer: int) -> str:
    return f"acts/{layer}"
