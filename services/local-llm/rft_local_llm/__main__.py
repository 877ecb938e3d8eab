"""``python -m rft_local_llm --host 127.0.0.1 --port 8081``: the local default LLM server."""

from rft_local_llm.server import main

main()
