"""The local default LLM server: SmolLM2-135M-Instruct on the CPU behind the OpenAI
chat-completions API (``python -m rft_local_llm --port 8081``).

Its own package so that no service carries torch and transformers for it: the client every
service uses, the settings, the chat format and the launcher that starts this server in a
subprocess (:class:`rft_runtime.llm.LocalLLMServer`) stay in :mod:`rft_runtime.llm`.

- :mod:`rft_local_llm.server`: the FastAPI app and ``main`` (what ``python -m`` runs)
- :mod:`rft_local_llm.batcher`: continuous batching of requests onto the decoder
- :mod:`rft_local_llm.engine`: the batched decoder (transformers, prefix cache)
"""
