pytest_plugins = ["rft_runtime.testing"]
