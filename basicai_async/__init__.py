"""basicai_async: the asyncio Python SDK for BasicAI's OpenAPI."""

__version__ = "0.1.0"

__all__ = ["__version__"]
