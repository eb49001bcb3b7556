"""Token selection and residual-stream extraction into the store."""
