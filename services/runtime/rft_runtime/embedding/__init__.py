"""What every user of prompt embeddings shares, without the model: the embedder interface, the
task text that gets embedded, the shape of a prompt's point in the vector store, and a client
of the embedder service (``POST /v1/embed``).

The model itself (torch, sentence-transformers, ONNX Runtime) stays in ``rft_embedder``; a
service that only needs vectors (the generator, the grader's cosine metric) calls the embedder
service with :class:`rft_runtime.embedding.http.HttpEmbedder`, or is handed the in-process model
by a caller that has it (the ``rft`` CLI). Import from the submodules: ``model`` and ``points``
need numpy (the ``vectorstore`` extra), ``text`` and ``http`` do not.
"""
