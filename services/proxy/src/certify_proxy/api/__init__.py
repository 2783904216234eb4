"""The HTTP edge: the app's routes, dependencies, middleware, request/response models and error bodies."""
