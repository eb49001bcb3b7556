"""The HDF5 activation store: schema, writer, torch-free reader, checks."""
