"""eicore-gemini: Gemini models through the Gemini API and google-genai (``model=gemini``)."""

from eicore import hookimpl
from eicore_gemini.config import GeminiConfig
from eicore_gemini.model import GeminiModel


@hookimpl
def eicore_register_models(register):  # type: ignore[no-untyped-def]
    register("gemini", GeminiModel, GeminiConfig)
