"""The `conveyor worker` process: claim admitted executions, run them, report back."""
