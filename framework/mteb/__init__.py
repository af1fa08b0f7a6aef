"""MTEB interop: rankarena retrievers inside mteb, MTEB results folders and task metadata."""
