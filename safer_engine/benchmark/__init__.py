"""Benchmarks with ground truth: flip a known share of the safety train pairs, run the whole
loop on the noisy data, and measure how well each method finds the flipped pairs."""
