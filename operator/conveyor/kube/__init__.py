"""What the operator and the worker share to talk to the API server: the JSON client (`api`), the
Event builder (`events`), and how timestamps are written and read (`times`). Depends on nothing of
Conveyor but `api.names` and the error classes of `locks.api`, so both processes import it without
pulling in each other."""
