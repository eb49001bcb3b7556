"""SAE training, encoding, feature statistics and example reading.

File names of an SAE folder's artifacts live here, free of torch, so readers such as the
explorer can find them without importing the modules that write them.
"""

CODES_FILE = "codes.h5"
"""Top-k codes, the per-feature index and statistics, written by `safer encode`."""

SALIENCE_FILE = "salience.parquet"
"""The feature table with salience and its rate variants, written by `safer encode`."""
