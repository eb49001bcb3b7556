"""SAE codes on disk: the codes file, the feature file, their schema and a torch-free reader."""
