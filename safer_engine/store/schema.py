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

The data's own texts (written since the explorer shows them; stores without them stay
readable, and readers fall back to `vocab/pieces`):

    texts/utf8                        uint8 [n_bytes]     every distinct prompt and response,
                                                          UTF-8, concatenated
    texts/offsets                     int64 [n_texts + 1] text i is utf8[offsets[i]:offsets[i+1]]
    docs/prompt_text, response_text   int64 [n_docs]      each document's two texts
    tokens/char_start, char_end       int32 [n_tokens]    each token's character span (Python
                                                          string indices) in its document's
                                                          raw prompt (tokens before resp_start)
                                                          or raw response (tokens in the
                                                          response span); -1 for tokens of
                                                          neither (special tokens, the text
                                                          format's own words)
"""

from __future__ import annotations

SCHEMA_VERSION = 1
# Every dataset starts on a 64-byte boundary: numpy copies a whole misaligned memmap before
# searching or sorting it (120 MB per call on a 20M-token store).
ALIGNED = {"alignment_threshold": 1, "alignment_interval": 64}


TEXT_DATASETS = (
    "texts/utf8",
    "texts/offsets",
    "docs/prompt_text",
    "docs/response_text",
    "tokens/char_start",
    "tokens/char_end",
)
NO_CHAR = -1


def acts_group(layer: int) -> str:
    return f"acts/{layer}"
