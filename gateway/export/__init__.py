"""Builds the model repository: SavedModels, Triton configs, provenance, tokenizer files.

Imports TensorFlow lazily; the gateway itself never needs it.
"""
