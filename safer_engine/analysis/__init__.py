"""Feature statistics, salience ranking and per-feature example indexes over SAE codes."""
