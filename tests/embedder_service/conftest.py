from tests.categorizer_service.fixtures import (  # noqa: F401 - fixtures
    drone_prompts,
    drone_sanitized,
    embedder,
    model_dir,
)
