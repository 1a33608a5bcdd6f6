"""The workflow framework users import: decorator, context, task graph, errors, plugin registry."""
