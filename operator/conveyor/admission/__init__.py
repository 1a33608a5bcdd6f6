"""Admission: a pure function from (requests, current state) to decisions. No I/O here."""
