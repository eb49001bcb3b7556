"""Sharing an analysis with tools people already read features in: each feature's facts in
one row (`features`, with the attribution's effects from `attribution`), what the analysis is
of (`analysis`), where an example comes from (`examples`), and the Neuronpedia export
(`neuronpedia`: the layout; `neuronpedia_records` and `neuronpedia_rows`: its rows)."""
