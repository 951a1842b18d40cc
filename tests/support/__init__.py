"""What several test files share: raw-release writers and prepared datasets, the CLI runners,
the PyTorch reference and its random weights, random keras.applications models, numpy
references, the numbers of a run's state checkpoint, the serialisation round trip."""
