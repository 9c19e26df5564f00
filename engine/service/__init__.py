"""The reviewer's service: an HTTP API over the same engine as the command line (`imr serve`),
with bearer-token access by role and an append-only decision log (`imr replay` re-decides it).

Layout: auth (tokens and passwords, kept hashed), log (the decision log in SQLite or PostgreSQL),
app (the FastAPI application and its routes), replay (re-deciding the log), run (starting uvicorn).
"""
