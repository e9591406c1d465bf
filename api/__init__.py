"""The HTTP API: FastAPI app, dependencies and one router per resource."""
