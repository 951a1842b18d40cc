"""The test suite of fada-tf (pytest)."""
