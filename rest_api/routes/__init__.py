"""The REST operations, one module per resource, each a router (:class:`~rest_api.registry.ApiRoutes`).

A router names the access its operations have unless one says otherwise
(``ApiRoutes("Admin", access=ADMIN)``), so a resource's rule is written once;
``rest_api/app.py`` mounts them all. What the routes share (access, queries,
responses, the OpenAPI registry) lives beside this package in ``rest_api/``.
"""
