"""The prompt renderer and the lock file: shared by the runtime and the static side."""
