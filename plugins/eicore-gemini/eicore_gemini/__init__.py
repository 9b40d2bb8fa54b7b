"""eicore-gemini: Gemini models through the Gemini API and google-genai (``model=gemini``)."""

from eicore import Register, hookimpl
from eicore_gemini.config import GeminiConfig
from eicore_gemini.model import GeminiModel


@hookimpl
def eicore_register_models(register: Register) -> None:
    register("gemini", GeminiModel, GeminiConfig)
