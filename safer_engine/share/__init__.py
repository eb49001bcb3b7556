"""Sharing an analysis with tools people already read features in: each feature's facts in
one row (`features`), the attribution's effects (`attribution`) and the Neuronpedia export
(`neuronpedia`, its rows in `neuronpedia_records`)."""
