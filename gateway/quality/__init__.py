"""The quality lab: how well a model's embeddings retrieve, measured off the request path.

Copy detection (`copy_detection`), labeled retrieval (`labeled`) on a labeled set of real
photos (`labeled_set`, from the bundled `samples`), and the precision trials the exporter and
the benchmarks run (`trials`). It depends on the model specs, `preprocess` and the `Embedder`
protocol only: the exporter, the CLI and bench/ import it, the services do not.
"""
