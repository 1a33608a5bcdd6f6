"""Built-in plugins (kubernetes, shell, http), registered under the `conveyor.plugins` entry point."""
