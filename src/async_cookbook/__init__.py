"""The Async Testing Cookbook: production code exported from the recipe notebooks, and the
pytest plugin (:mod:`async_cookbook.testing`) that their tests share.

Each recipe's module is generated from its notebook in ``notebooks/`` (``make export``)."""

__version__ = "0.1.0"
