"""The salience stage: feature statistics, the example index and salience from SAE codes."""
