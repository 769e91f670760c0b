"""The HTTP API: routes, dependencies, the error boundary, middleware."""
