"""eicore's own test aids: ``fake`` (a local fake of the OpenAI, Anthropic and Gemini APIs) and
``complete`` (run a model's ``generate`` in an event loop). Importing them also unsets the real
providers' API keys and keeps the Hugging Face hub offline."""

from eicore.testing.pytest_plugin import complete, fake  # noqa: F401
