"""The `conveyor` command line (also installed as `cvy`)."""
