"""HTTP: FastAPI routers. Thin: parse, authorize, call a service, map errors."""
